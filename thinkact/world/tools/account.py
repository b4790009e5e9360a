"""Account: looking up a customer, changing the email, resetting the password."""
from __future__ import annotations

from thinkact.world.tooldef import CUSTOMER, S, ToolDef

DOMAIN = "account"

TOOLS = (
    ToolDef(
        name="get_account_info",
        domain=DOMAIN,
        description="Look up a customer's account.",
        properties={"customer_id": CUSTOMER},
        required=("customer_id",),
        requests=("Show me the account details for {customer_id}.", "Look up customer {customer_id}."),
        requests_env=("Pull up the profile of client {customer_id}.",),
        followups=("What's on that account?",),
        followups_env=("Pull up that profile.",),
        vague="Show me my account details.",
        vague_env="Pull up my profile.",
        answer="Account {customer_id} belongs to {name}, member since {since}, tier {tier}.",
        intent="look up an account",
        simulate=lambda a, r: {"customer_id": a["customer_id"], "since": str(r.randint(2012, 2025)),
                               "name": r.choice(["J. Ortiz", "M. Chen", "S. Patel", "L. Dubois"]),
                               "tier": r.choice(["silver", "gold", "platinum"])},
    ),
    ToolDef(
        name="update_email",
        domain=DOMAIN,
        description="Change the email address of an account.",
        properties={"customer_id": CUSTOMER, "email": {"type": "string", "format": "email"}},
        required=("customer_id", "email"),
        requests=("Change the email on {customer_id} to {email}.", "Update account {customer_id} email: {email}."),
        requests_env=("Swap the contact address of client {customer_id} for {email}.",),
        followups=("Set its email to {email}.",),
        followups_env=("Make {email} the contact address there.",),
        vague="I want to change my email.",
        vague_env="Swap my contact address.",
        answer="The email of {customer_id} is now {email}.",
        intent="change an email address",
        simulate=lambda a, r: {"customer_id": a["customer_id"], "email": a["email"]},
    ),
    ToolDef(
        name="reset_password",
        domain=DOMAIN,
        description="Send a password-reset link.",
        properties={"email": {"type": "string", "format": "email"},
                    "channel": {"type": "string", "enum": ["email", "sms"]}},
        required=("email",),
        requests=("I forgot my password, my email is {email}.", "Send a reset link to {email} by {channel}."),
        requests_env=("Locked out — login is {email}, send the link via {channel}.",),
        followups=("Please reset the password for it.",),
        followups_env=("I'm locked out of that login.",),
        vague="I forgot my password.",
        vague_env="I'm locked out.",
        answer="A reset link was sent to {email}; it expires in {expires_minutes} minutes.",
        intent="reset a password",
        simulate=lambda a, r: {"email": a["email"], "expires_minutes": r.choice([15, 30, 60])},
    ),
)
