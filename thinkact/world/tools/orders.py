"""Orders: an order's status, its shipment, cancelling it, changing where it goes."""
from __future__ import annotations

from thinkact.world.tooldef import ADDRESS, ORDER, ToolDef, random_date

DOMAIN = "orders"

TOOLS = (
    ToolDef(
        name="get_order_status",
        domain=DOMAIN,
        description="Get the status of an order.",
        properties={"order_id": ORDER},
        required=("order_id",),
        requests=("What's the status of order {order_id}?", "Can you check on my order {order_id}?"),
        requests_env=("Any news about purchase {order_id}?",),
        followups=("What's its status right now?",),
        followups_env=("Has it moved along at all?",),
        vague="Can you check on my order?",
        vague_env="Any news about my purchase?",
        answer="Order {order_id} is {status}; expected delivery {eta}.",
        intent="check an order's status",
        simulate=lambda a, r: {"order_id": a["order_id"], "eta": random_date(r),
                               "status": r.choice(["processing", "shipped", "delivered", "on hold"])},
    ),
    ToolDef(
        name="track_shipment",
        domain=DOMAIN,
        description="Track the shipment of an order.",
        properties={"order_id": ORDER, "carrier": {"type": "string", "enum": ["ups", "fedex", "dhl", "usps"]}},
        required=("order_id",),
        requests=("Where is my package for order {order_id}?", "Track order {order_id} with {carrier} please."),
        requests_env=("Locate the parcel from order {order_id}, it ships via {carrier}.",),
        followups=("Where is that package now?",),
        followups_env=("Whereabouts is the parcel at the moment?",),
        vague="Where is my package?",
        vague_env="Locate my parcel, please.",
        answer="The package for {order_id} is in {location}, last scan {last_scan}.",
        intent="track a shipment",
        simulate=lambda a, r: {"order_id": a["order_id"],
                               "location": r.choice(["Memphis hub", "Leipzig hub", "local depot", "out for delivery"]),
                               "last_scan": f"{r.randint(6, 22):02d}:{r.randint(0, 59):02d}"},
    ),
    ToolDef(
        name="cancel_order",
        domain=DOMAIN,
        description="Cancel an order that has not shipped.",
        properties={"order_id": ORDER,
                    "reason": {"type": "string", "enum": ["changed_mind", "too_late", "duplicate", "other"]}},
        required=("order_id", "reason"),
        requests=("Cancel order {order_id}, reason: {reason}.", "Please cancel {order_id} because of {reason}."),
        requests_env=("Kill order {order_id} for me — {reason}.",),
        followups=("Please cancel it, reason: {reason}.",),
        followups_env=("Scrap that one — {reason}.",),
        vague="I want to cancel my order.",
        vague_env="Scrap my purchase please.",
        answer="Order {order_id} is cancelled: {result}.",
        intent="cancel an order",
        simulate=lambda a, r: {"order_id": a["order_id"], "result": r.choice(["refund issued", "no charge made"])},
    ),
    ToolDef(
        name="change_delivery_address",
        domain=DOMAIN,
        description="Change the delivery address of an order.",
        properties={"order_id": ORDER, "address": ADDRESS},
        required=("order_id", "address"),
        requests=("Ship order {order_id} to {address.street}, {address.city} {address.postal_code}, "
                  "{address.country}.",),
        requests_env=("Redirect {order_id} to {address.street}, {address.postal_code} {address.city}, "
                      "{address.country}.",),
        followups=("Send it to {address.street}, {address.city} {address.postal_code}, {address.country} instead.",),
        followups_env=("Redirect it to {address.street}, {address.postal_code} {address.city}, {address.country}.",),
        vague="I need to change where my order is delivered.",
        vague_env="My parcel should go elsewhere.",
        answer="Order {order_id} will now go to {city}; new ETA {eta}.",
        intent="change a delivery address",
        simulate=lambda a, r: {"order_id": a["order_id"], "city": a["address"]["city"], "eta": random_date(r)},
    ),
)
