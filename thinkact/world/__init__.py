"""The simulated world an agent acts in: the tool catalog (catalog.py: domains, tools and their JSON Schemas),
deterministic tool simulators (simulators.py), slot values (slots.py) and the users' phrasings (phrasings.py).

The built-in data generators (thinkact.data) and the agent's tool environment (thinkact.agent) both stand on it.
"""
