"""Restaurants: finding one, reserving a table, cancelling it. Held out of train by params.yaml
(data.held_out_domains): its tools only reach test_task."""
from __future__ import annotations

from thinkact.world.tooldef import CITY, DATE, ToolDef

DOMAIN = "restaurants"

TOOLS = (
    ToolDef(
        name="find_restaurants",
        domain=DOMAIN,
        description="Find restaurants in a city.",
        properties={"city": CITY,
                    "cuisine": {"type": "string", "enum": ["italian", "japanese", "mexican", "indian", "french"]},
                    "party_size": {"type": "integer", "minimum": 1, "maximum": 20}},
        required=("city",),
        requests=("Find restaurants in {city}.", "Any {cuisine} places in {city} for {party_size}?"),
        requests_env=("Where can {party_size} of us eat {cuisine} food in {city}?",),
        followups=("Any restaurants there?",),
        followups_env=("Where can we eat there?",),
        vague="Find me a restaurant.",
        vague_env="Where can we eat?",
        answer="Top pick in {city}: {restaurant} ({restaurant_id}), rated {rating}.",
        intent="find restaurants",
        simulate=lambda a, r: {"city": a["city"], "restaurant_id": f"R{r.randint(1000, 9999)}",
                               "restaurant": r.choice(["Luna", "Sakura", "El Patio", "Masala House"]),
                               "rating": round(r.uniform(3.5, 5.0), 1)},
    ),
    ToolDef(
        name="make_reservation",
        domain=DOMAIN,
        description="Reserve a table.",
        properties={"restaurant_id": {"type": "string", "pattern": "^R[0-9]{4}$"}, "date": DATE,
                    "time": {"type": "string", "pattern": "^[0-2][0-9]:[0-5][0-9]$"},
                    "party_size": {"type": "integer", "minimum": 1, "maximum": 20}},
        required=("restaurant_id", "date", "time", "party_size"),
        requests=("Reserve {restaurant_id} on {date} at {time} for {party_size}.",
                  "Table for {party_size} at {restaurant_id}, {date} {time}."),
        requests_env=("Grab us seats at {restaurant_id}: {party_size} people, {date}, {time}.",),
        followups=("Book a table there on {date} at {time} for {party_size}.",),
        followups_env=("Grab seats there, {date} {time}, {party_size} people.",),
        vague="Book me a table.",
        vague_env="Grab us seats somewhere.",
        answer="Table for {party_size} at {restaurant_id} on {date} {time}, confirmation {confirmation}.",
        intent="reserve a table",
        simulate=lambda a, r: {"restaurant_id": a["restaurant_id"], "date": a["date"], "time": a["time"],
                               "party_size": a["party_size"], "confirmation": f"T{r.randint(10000, 99999)}"},
    ),
    ToolDef(
        name="cancel_reservation",
        domain=DOMAIN,
        description="Cancel a table reservation.",
        properties={"confirmation": {"type": "string", "pattern": "^T[0-9]{5}$"}},
        required=("confirmation",),
        requests=("Cancel reservation {confirmation}.", "Please drop table booking {confirmation}."),
        requests_env=("We can't make it, scrap {confirmation}.",),
        followups=("Cancel that reservation.",),
        followups_env=("Scrap that table.",),
        vague="Cancel my table.",
        vague_env="We can't make it tonight.",
        answer="Reservation {confirmation} is cancelled.",
        intent="cancel a reservation",
        simulate=lambda a, r: {"confirmation": a["confirmation"], "status": "cancelled"},
    ),
)
