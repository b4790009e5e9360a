"""Insurance: policies and claims. Held out of train by params.yaml (data.held_out_domains): its tools
only reach test_task."""
from __future__ import annotations

from thinkact.world.tooldef import DATE, ToolDef

DOMAIN = "insurance"

TOOLS = (
    ToolDef(
        name="get_policy",
        domain=DOMAIN,
        description="Get an insurance policy.",
        properties={"policy_id": {"type": "string", "pattern": "^P[0-9]{6}$"}},
        required=("policy_id",),
        requests=("Show policy {policy_id}.", "What does policy {policy_id} cover?"),
        requests_env=("Details of cover {policy_id}?",),
        followups=("What does it cover?",),
        followups_env=("Details of that cover?",),
        vague="What does my policy cover?",
        vague_env="Tell me about my cover.",
        answer="Policy {policy_id}: {kind} cover up to {limit} USD, deductible {deductible}.",
        intent="look up a policy",
        simulate=lambda a, r: {"policy_id": a["policy_id"], "kind": r.choice(["home", "car", "travel"]),
                               "limit": r.randint(5, 500) * 1000, "deductible": r.choice([100, 250, 500])},
    ),
    ToolDef(
        name="file_claim",
        domain=DOMAIN,
        description="File an insurance claim.",
        properties={"policy_id": {"type": "string", "pattern": "^P[0-9]{6}$"}, "incident_date": DATE,
                    "amount": {"type": "number", "exclusiveMinimum": 0},
                    "category": {"type": "string", "enum": ["theft", "accident", "water_damage", "fire"]}},
        required=("policy_id", "incident_date", "amount"),
        requests=("File a claim on {policy_id} for {amount} USD, incident on {incident_date}.",
                  "Claim {amount} on policy {policy_id}: {category} on {incident_date}."),
        requests_env=("I need to claim {amount} under {policy_id}, {category}, it happened {incident_date}.",),
        followups=("File a claim on it for {amount} USD, incident on {incident_date}.",),
        followups_env=("Claim {amount} under that, it happened {incident_date}.",),
        vague="I want to file a claim.",
        vague_env="I need to claim something.",
        answer="Claim {claim_id} for {amount} USD on {policy_id} is {status}.",
        intent="file a claim",
        simulate=lambda a, r: {"claim_id": f"CL{r.randint(10000, 99999)}", "policy_id": a["policy_id"],
                               "amount": a["amount"], "status": r.choice(["received", "under review"])},
    ),
    ToolDef(
        name="get_claim_status",
        domain=DOMAIN,
        description="Get the status of a claim.",
        properties={"claim_id": {"type": "string", "pattern": "^CL[0-9]{5}$"}},
        required=("claim_id",),
        requests=("What's the status of claim {claim_id}?", "Any update on claim {claim_id}?"),
        requests_env=("Where is claim {claim_id} at?",),
        followups=("Any update on that claim?",),
        followups_env=("Where is that claim at?",),
        vague="Any update on my claim?",
        vague_env="Where is my claim at?",
        answer="Claim {claim_id} is {status}; payout {payout} USD.",
        intent="check a claim",
        simulate=lambda a, r: {"claim_id": a["claim_id"],
                               "status": r.choice(["approved", "rejected", "under review"]),
                               "payout": r.randint(0, 5000)},
    ),
)
