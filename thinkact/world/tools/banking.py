"""Banking: balances, transfers, transactions."""
from __future__ import annotations

from thinkact.world.tooldef import ACCOUNT, DATE, ToolDef, random_money

DOMAIN = "banking"


def _balance(a, r):  # the simulator of get_balance
    balance = random_money(r, 200, 9000)
    return {"account_id": a["account_id"], "balance": balance, "currency": "USD",
            "available": round(balance - r.randint(0, 200), 2)}


TOOLS = (
    ToolDef(
        name="get_balance",
        domain=DOMAIN,
        description="Get the balance of a bank account.",
        properties={"account_id": ACCOUNT},
        required=("account_id",),
        requests=("What's the balance of {account_id}?", "How much money is in account {account_id}?"),
        requests_env=("How much have I got in {account_id}?",),
        followups=("How much is in it?",),
        followups_env=("How much have I got there?",),
        vague="What's my balance?",
        vague_env="How much have I got?",
        answer="Account {account_id} holds {balance} {currency} (available {available}).",
        intent="check a balance",
        simulate=_balance,
    ),
    ToolDef(
        name="transfer_funds",
        domain=DOMAIN,
        description="Transfer money between accounts.",
        properties={"from_account": ACCOUNT, "to_account": ACCOUNT,
                    "amount": {"type": "number", "exclusiveMinimum": 0},
                    "currency": {"type": "string", "enum": ["USD", "EUR", "GBP"]}},
        required=("from_account", "to_account", "amount"),
        requests=("Transfer {amount} {currency} from {from_account} to {to_account}.",
                  "Move {amount} from {from_account} to {to_account}."),
        requests_env=("Wire {amount} {currency} out of {from_account} into {to_account}.",),
        followups=("Move {amount} {currency} from it to {to_account}.",),
        followups_env=("Wire {amount} out of there into {to_account}.",),
        vague="I want to transfer money.",
        vague_env="Wire some money for me.",
        answer="Sent {amount} {currency} from {from_account} to {to_account}, ref {transfer_id}.",
        intent="transfer money",
        simulate=lambda a, r: {"from_account": a["from_account"], "to_account": a["to_account"],
                               "amount": a["amount"], "currency": a.get("currency", "USD"),
                               "transfer_id": f"TX{r.randint(100000, 999999)}"},
    ),
    ToolDef(
        name="list_transactions",
        domain=DOMAIN,
        description="List the transactions of an account between two dates.",
        properties={"account_id": ACCOUNT, "start_date": DATE, "end_date": DATE,
                    "min_amount": {"type": "number", "minimum": 0}},
        required=("account_id", "start_date", "end_date"),
        requests=("List transactions on {account_id} from {start_date} to {end_date}.",
                  "Show payments over {min_amount} on {account_id} between {start_date} and {end_date}."),
        requests_env=("What went through {account_id} from {start_date} until {end_date}, above {min_amount}?",),
        followups=("List its transactions from {start_date} to {end_date}.",),
        followups_env=("What went through there {start_date} to {end_date}?",),
        vague="Show my transactions.",
        vague_env="What went through my account?",
        answer="{account_id} had {count} transactions from {start_date} to {end_date}, largest {largest}.",
        intent="list transactions",
        simulate=lambda a, r: {"account_id": a["account_id"], "start_date": a["start_date"],
                               "end_date": a["end_date"], "count": r.randint(0, 40),
                               "largest": random_money(r, 10, 3000)},
    ),
)
