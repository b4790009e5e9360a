"""Subscriptions: the plan, changing it, pausing it."""
from __future__ import annotations

from thinkact.world.tooldef import CUSTOMER, ToolDef, random_date

DOMAIN = "subscriptions"
PRICES = {"basic": 9, "standard": 15, "premium": 25}  # USD per month; a yearly cycle costs 10 months

TOOLS = (
    ToolDef(
        name="get_subscription",
        domain=DOMAIN,
        description="Get a customer's subscription plan.",
        properties={"customer_id": CUSTOMER},
        required=("customer_id",),
        requests=("Which plan is {customer_id} on?", "Show the subscription of {customer_id}."),
        requests_env=("What membership does client {customer_id} have?",),
        followups=("Which plan is it on?",),
        followups_env=("What membership is that?",),
        vague="Which plan am I on?",
        vague_env="What membership do I have?",
        answer="{customer_id} is on the {plan} plan, renewing {renews}.",
        intent="look up a subscription",
        simulate=lambda a, r: {"customer_id": a["customer_id"], "plan": r.choice(["basic", "standard", "premium"]),
                               "renews": random_date(r)},
    ),
    ToolDef(
        name="change_plan",
        domain=DOMAIN,
        description="Change a subscription plan.",
        properties={"customer_id": CUSTOMER, "plan": {"type": "string", "enum": ["basic", "standard", "premium"]},
                    "billing_cycle": {"type": "string", "enum": ["monthly", "yearly"]}},
        required=("customer_id", "plan"),
        requests=("Move {customer_id} to the {plan} plan.", "Switch {customer_id} to {plan}, billed {billing_cycle}."),
        requests_env=("Put client {customer_id} on {plan}, {billing_cycle} billing.",),
        followups=("Switch it to {plan}.",),
        followups_env=("Put that one on {plan}.",),
        vague="I want to change my plan.",
        vague_env="Put me on another membership.",
        answer="{customer_id} moves to {plan} on {effective}, {price} USD per cycle.",
        intent="change a plan",
        simulate=lambda a, r: {"customer_id": a["customer_id"], "plan": a["plan"], "effective": random_date(r),
                               "price": PRICES[a["plan"]] * (10 if a.get("billing_cycle") == "yearly" else 1)},
    ),
    ToolDef(
        name="pause_subscription",
        domain=DOMAIN,
        description="Pause a subscription for some weeks.",
        properties={"customer_id": CUSTOMER, "weeks": {"type": "integer", "minimum": 1, "maximum": 12}},
        required=("customer_id", "weeks"),
        requests=("Pause {customer_id} for {weeks} weeks.",
                  "Put subscription {customer_id} on hold for {weeks} weeks."),
        requests_env=("Freeze client {customer_id}'s membership {weeks} weeks.",),
        followups=("Pause it for {weeks} weeks.",),
        followups_env=("Freeze that for {weeks} weeks.",),
        vague="I want to pause my subscription.",
        vague_env="Freeze my membership.",
        answer="{customer_id} is paused until {resumes}.",
        intent="pause a subscription",
        simulate=lambda a, r: {"customer_id": a["customer_id"], "resumes": random_date(r)},
    ),
)
