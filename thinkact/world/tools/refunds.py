"""Refunds: asking for one, following it, what can still be returned."""
from __future__ import annotations

from thinkact.world.tooldef import ORDER, ToolDef, random_date, random_money

DOMAIN = "refunds"
ITEMS = ["headphones", "charger", "jacket", "mug", "lamp", "backpack", "shoes"]


def _returnable(a, r):  # the simulator of list_returnable_items
    items = sorted(r.sample(ITEMS, r.randint(1, 3)))
    return {"order_id": a["order_id"], "count": len(items), "items": ", ".join(items)}


TOOLS = (
    ToolDef(
        name="request_refund",
        domain=DOMAIN,
        description="Request a refund for an order.",
        properties={"order_id": ORDER, "amount": {"type": "number", "exclusiveMinimum": 0},
                    "reason": {"type": "string", "enum": ["damaged", "wrong_item", "not_received", "other"]}},
        required=("order_id", "amount", "reason"),
        requests=("I want a refund of ${amount} for order {order_id}, it was {reason}.",
                  "Refund ${amount} on {order_id} please, reason {reason}."),
        requests_env=("Money back please: ${amount}, order {order_id}, {reason}.",),
        followups=("I'd like ${amount} back for it, it was {reason}.",),
        followups_env=("Return ${amount} to me on that, {reason}.",),
        vague="I want a refund.",
        vague_env="Give me my money back.",
        answer="Refund {refund_id} for ${amount} is {status}.",
        intent="request a refund",
        simulate=lambda a, r: {"refund_id": f"RF-{r.randint(10000, 99999)}", "amount": a["amount"],
                               "status": r.choice(["approved", "pending review"])},
    ),
    ToolDef(
        name="get_refund_status",
        domain=DOMAIN,
        description="Get the status of a refund.",
        properties={"refund_id": {"type": "string", "pattern": "^RF-[0-9]{5}$"}},
        required=("refund_id",),
        requests=("What's happening with refund {refund_id}?", "Status of refund {refund_id}?"),
        requests_env=("Has reimbursement {refund_id} gone through?",),
        followups=("Where does that refund stand?",),
        followups_env=("Did that reimbursement go through?",),
        vague="Where is my refund?",
        vague_env="Has my reimbursement gone through?",
        answer="Refund {refund_id} is {status}; {amount} to be paid by {paid_by}.",
        intent="check a refund",
        simulate=lambda a, r: {"refund_id": a["refund_id"], "status": r.choice(["approved", "paid", "pending"]),
                               "amount": random_money(r, 5, 500), "paid_by": random_date(r)},
    ),
    ToolDef(
        name="list_returnable_items",
        domain=DOMAIN,
        description="List the items of an order that can still be returned.",
        properties={"order_id": ORDER, "days": {"type": "integer", "minimum": 1, "maximum": 90}},
        required=("order_id",),
        requests=("Which items from {order_id} can I return?",
                  "What can I still send back from order {order_id} within {days} days?"),
        requests_env=("Anything in {order_id} still eligible for return in the next {days} days?",),
        followups=("Which of those items can go back?",),
        followups_env=("Is any of that still returnable?",),
        vague="What can I return?",
        vague_env="Is anything still eligible for return?",
        answer="From {order_id} you can return {count} items: {items}.",
        intent="list returnable items",
        simulate=_returnable,
    ),
)
