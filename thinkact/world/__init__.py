"""The simulated world an agent acts in. A tool is one `ToolDef` declaration, in the module of its domain:

    tools/<domain>.py   one module per domain: DOMAIN, its TOOLS (ToolDef: schema, phrasings, answer template,
                        intent and simulator, all by keyword) and any SLOTS only its tools use
    tools/__init__.py   BUILTIN: the domains in catalog order (the built-in data set depends on it)
    tooldef.py          ToolDef, the JSON Schema pieces tools share, helpers for simulators
    catalog.py          the registry: TOOLS, TOOLS_BY_NAME, DOMAINS, SIMULATORS, domain_tools, register, with_tools
    simulators.py       simulate(name, arguments): the deterministic result of a call
    slots.py            Slot and the shared vocabulary SLOTS: how to draw each argument, how users name it
    phrasings.py        domain-independent phrasings: system prompt, small talk, clarifying questions, reasoning

The built-in data generators (thinkact.data) and the agent's tool environment (thinkact.env) both stand on it.
How to add a tool or a domain: docs/how-to-add-a-tool.md.
"""
