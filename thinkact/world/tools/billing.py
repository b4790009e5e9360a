"""Billing: invoices and the payment method."""
from __future__ import annotations

from thinkact.world.tooldef import CUSTOMER, ToolDef, random_date, random_money

DOMAIN = "billing"

TOOLS = (
    ToolDef(
        name="get_invoice",
        domain=DOMAIN,
        description="Get an invoice by id.",
        properties={"invoice_id": {"type": "string", "pattern": "^INV-[0-9]{6}$"}},
        required=("invoice_id",),
        requests=("Show me invoice {invoice_id}.", "How much is invoice {invoice_id}?"),
        requests_env=("What's on bill {invoice_id}?",),
        followups=("How much is that one?",),
        followups_env=("What's on that bill?",),
        vague="Show me my invoice.",
        vague_env="What's on my bill?",
        answer="Invoice {invoice_id}: {total} {currency}, {status}, due {due}.",
        intent="look up an invoice",
        simulate=lambda a, r: {"invoice_id": a["invoice_id"], "total": random_money(r, 20, 900), "currency": "USD",
                               "status": r.choice(["paid", "unpaid", "overdue"]), "due": random_date(r)},
    ),
    ToolDef(
        name="list_invoices",
        domain=DOMAIN,
        description="List a customer's invoices.",
        properties={"customer_id": CUSTOMER, "year": {"type": "integer", "minimum": 2000, "maximum": 2100},
                    "status": {"type": "string", "enum": ["paid", "unpaid", "overdue"]}},
        required=("customer_id",),
        requests=("List the invoices of {customer_id}.", "Show {status} invoices for {customer_id} in {year}."),
        requests_env=("Which {status} bills does client {customer_id} have from {year}?",),
        followups=("List its {status} invoices.",),
        followups_env=("Which bills are {status} there?",),
        vague="List my invoices.",
        vague_env="Which bills do I have?",
        answer="{customer_id} has {count} invoices, {total} in all.",
        intent="list invoices",
        simulate=lambda a, r: {"customer_id": a["customer_id"], "count": r.randint(1, 12),
                               "total": random_money(r, 50, 4000)},
    ),
    ToolDef(
        name="update_payment_method",
        domain=DOMAIN,
        description="Set the payment method of an account.",
        properties={"customer_id": CUSTOMER,
                    "method": {"type": "string", "enum": ["card", "paypal", "bank_transfer"]},
                    "card_last4": {"type": "string", "pattern": "^[0-9]{4}$"}},
        required=("customer_id", "method"),
        requests=("Switch {customer_id} to pay by {method}.",
                  "Use {method} ending {card_last4} for account {customer_id}."),
        requests_env=("Client {customer_id} wants to pay via {method} from now on.",),
        followups=("Make it pay by {method}.",),
        followups_env=("Have that one pay via {method}.",),
        vague="I want to change how I pay.",
        vague_env="Switch my payment option.",
        answer="{customer_id} now pays by {method}, from {effective}.",
        intent="change a payment method",
        simulate=lambda a, r: {"customer_id": a["customer_id"], "method": a["method"], "effective": random_date(r)},
    ),
)
