"""The built-in tool catalog: 10 customer-facing domains, 32 tools with real JSON Schemas.

Each tool has a schema (what the model sees), request phrasings for train and for `test_env` (never seen in
train), follow-up phrasings that leave the anchor slot to the history, a vague request for clarification,
and an answer template filled from the simulated tool result (thinkact.world.simulators).
Placeholders are slot paths (`{address.city}`); a request fills exactly the arguments it names.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ToolDef:
    name: str
    domain: str
    description: str
    properties: dict[str, Any]
    required: tuple[str, ...]
    requests: tuple[str, ...]       # train / test_id phrasings
    requests_env: tuple[str, ...]   # test_env phrasings
    followups: tuple[str, ...]      # the anchor slot comes from an earlier turn
    followups_env: tuple[str, ...]
    vague: str                      # a request missing the anchor slot (clarify turn)
    vague_env: str
    answer: str                     # filled from the tool result
    intent: str                     # "check an order's status", for reasoning strings

    @property
    def anchor(self) -> str:
        return self.required[0]

    def schema(self) -> dict[str, Any]:
        """The OpenAI-style function schema offered to the model."""
        params = {"type": "object", "properties": self.properties, "required": list(self.required)}
        return {"type": "function",
                "function": {"name": self.name, "description": self.description, "parameters": params}}


S = {"type": "string"}
DATE = {"type": "string", "format": "date"}
ORDER = {"type": "string", "pattern": "^ORD-[0-9]{5}$"}
CUSTOMER = {"type": "string", "pattern": "^C[0-9]{6}$"}
ACCOUNT = {"type": "string", "pattern": "^AC[0-9]{6}$"}
CITY = {"type": "string"}
ADDRESS = {"type": "object", "properties": {"street": S, "city": S, "postal_code": S, "country": S},
           "required": ["street", "city", "postal_code", "country"]}
UNITS = {"type": "string", "enum": ["celsius", "fahrenheit"]}


def _t(name, domain, description, properties, required, requests, requests_env, followups, followups_env,
       vague, vague_env, answer, intent) -> ToolDef:
    return ToolDef(name, domain, description, properties, tuple(required), tuple(requests),
                   tuple(requests_env), tuple(followups), tuple(followups_env), vague, vague_env, answer, intent)


TOOLS: tuple[ToolDef, ...] = (
    # orders
    _t("get_order_status", "orders", "Get the status of an order.", {"order_id": ORDER}, ["order_id"],
       ["What's the status of order {order_id}?", "Can you check on my order {order_id}?"],
       ["Any news about purchase {order_id}?"],
       ["What's its status right now?"], ["Has it moved along at all?"],
       "Can you check on my order?", "Any news about my purchase?",
       "Order {order_id} is {status}; expected delivery {eta}.", "check an order's status"),
    _t("track_shipment", "orders", "Track the shipment of an order.",
       {"order_id": ORDER, "carrier": {"type": "string", "enum": ["ups", "fedex", "dhl", "usps"]}}, ["order_id"],
       ["Where is my package for order {order_id}?", "Track order {order_id} with {carrier} please."],
       ["Locate the parcel from order {order_id}, it ships via {carrier}."],
       ["Where is that package now?"], ["Whereabouts is the parcel at the moment?"],
       "Where is my package?", "Locate my parcel, please.",
       "The package for {order_id} is in {location}, last scan {last_scan}.", "track a shipment"),
    _t("cancel_order", "orders", "Cancel an order that has not shipped.",
       {"order_id": ORDER, "reason": {"type": "string", "enum": ["changed_mind", "too_late", "duplicate", "other"]}},
       ["order_id", "reason"],
       ["Cancel order {order_id}, reason: {reason}.", "Please cancel {order_id} because of {reason}."],
       ["Kill order {order_id} for me — {reason}."],
       ["Please cancel it, reason: {reason}."], ["Scrap that one — {reason}."],
       "I want to cancel my order.", "Scrap my purchase please.",
       "Order {order_id} is cancelled: {result}.", "cancel an order"),
    _t("change_delivery_address", "orders", "Change the delivery address of an order.",
       {"order_id": ORDER, "address": ADDRESS}, ["order_id", "address"],
       ["Ship order {order_id} to {address.street}, {address.city} {address.postal_code}, {address.country}."],
       ["Redirect {order_id} to {address.street}, {address.postal_code} {address.city}, {address.country}."],
       ["Send it to {address.street}, {address.city} {address.postal_code}, {address.country} instead."],
       ["Redirect it to {address.street}, {address.postal_code} {address.city}, {address.country}."],
       "I need to change where my order is delivered.", "My parcel should go elsewhere.",
       "Order {order_id} will now go to {city}; new ETA {eta}.", "change a delivery address"),
    # refunds
    _t("request_refund", "refunds", "Request a refund for an order.",
       {"order_id": ORDER, "amount": {"type": "number", "exclusiveMinimum": 0},
        "reason": {"type": "string", "enum": ["damaged", "wrong_item", "not_received", "other"]}},
       ["order_id", "amount", "reason"],
       ["I want a refund of ${amount} for order {order_id}, it was {reason}.",
        "Refund ${amount} on {order_id} please, reason {reason}."],
       ["Money back please: ${amount}, order {order_id}, {reason}."],
       ["I'd like ${amount} back for it, it was {reason}."], ["Return ${amount} to me on that, {reason}."],
       "I want a refund.", "Give me my money back.",
       "Refund {refund_id} for ${amount} is {status}.", "request a refund"),
    _t("get_refund_status", "refunds", "Get the status of a refund.",
       {"refund_id": {"type": "string", "pattern": "^RF-[0-9]{5}$"}}, ["refund_id"],
       ["What's happening with refund {refund_id}?", "Status of refund {refund_id}?"],
       ["Has reimbursement {refund_id} gone through?"],
       ["Where does that refund stand?"], ["Did that reimbursement go through?"],
       "Where is my refund?", "Has my reimbursement gone through?",
       "Refund {refund_id} is {status}; {amount} to be paid by {paid_by}.", "check a refund"),
    _t("list_returnable_items", "refunds", "List the items of an order that can still be returned.",
       {"order_id": ORDER, "days": {"type": "integer", "minimum": 1, "maximum": 90}}, ["order_id"],
       ["Which items from {order_id} can I return?", "What can I still send back from order {order_id} within {days} days?"],
       ["Anything in {order_id} still eligible for return in the next {days} days?"],
       ["Which of those items can go back?"], ["Is any of that still returnable?"],
       "What can I return?", "Is anything still eligible for return?",
       "From {order_id} you can return {count} items: {items}.", "list returnable items"),
    # account
    _t("get_account_info", "account", "Look up a customer's account.", {"customer_id": CUSTOMER}, ["customer_id"],
       ["Show me the account details for {customer_id}.", "Look up customer {customer_id}."],
       ["Pull up the profile of client {customer_id}."],
       ["What's on that account?"], ["Pull up that profile."],
       "Show me my account details.", "Pull up my profile.",
       "Account {customer_id} belongs to {name}, member since {since}, tier {tier}.", "look up an account"),
    _t("update_email", "account", "Change the email address of an account.",
       {"customer_id": CUSTOMER, "email": {"type": "string", "format": "email"}}, ["customer_id", "email"],
       ["Change the email on {customer_id} to {email}.", "Update account {customer_id} email: {email}."],
       ["Swap the contact address of client {customer_id} for {email}."],
       ["Set its email to {email}."], ["Make {email} the contact address there."],
       "I want to change my email.", "Swap my contact address.",
       "The email of {customer_id} is now {email}.", "change an email address"),
    _t("reset_password", "account", "Send a password-reset link.",
       {"email": {"type": "string", "format": "email"},
        "channel": {"type": "string", "enum": ["email", "sms"]}}, ["email"],
       ["I forgot my password, my email is {email}.", "Send a reset link to {email} by {channel}."],
       ["Locked out — login is {email}, send the link via {channel}."],
       ["Please reset the password for it."], ["I'm locked out of that login."],
       "I forgot my password.", "I'm locked out.",
       "A reset link was sent to {email}; it expires in {expires_minutes} minutes.", "reset a password"),
    # billing
    _t("get_invoice", "billing", "Get an invoice by id.", {"invoice_id": {"type": "string", "pattern": "^INV-[0-9]{6}$"}},
       ["invoice_id"],
       ["Show me invoice {invoice_id}.", "How much is invoice {invoice_id}?"],
       ["What's on bill {invoice_id}?"],
       ["How much is that one?"], ["What's on that bill?"],
       "Show me my invoice.", "What's on my bill?",
       "Invoice {invoice_id}: {total} {currency}, {status}, due {due}.", "look up an invoice"),
    _t("list_invoices", "billing", "List a customer's invoices.",
       {"customer_id": CUSTOMER, "year": {"type": "integer", "minimum": 2000, "maximum": 2100},
        "status": {"type": "string", "enum": ["paid", "unpaid", "overdue"]}}, ["customer_id"],
       ["List the invoices of {customer_id}.", "Show {status} invoices for {customer_id} in {year}."],
       ["Which {status} bills does client {customer_id} have from {year}?"],
       ["List its {status} invoices."], ["Which bills are {status} there?"],
       "List my invoices.", "Which bills do I have?",
       "{customer_id} has {count} invoices, {total} in all.", "list invoices"),
    _t("update_payment_method", "billing", "Set the payment method of an account.",
       {"customer_id": CUSTOMER, "method": {"type": "string", "enum": ["card", "paypal", "bank_transfer"]},
        "card_last4": {"type": "string", "pattern": "^[0-9]{4}$"}}, ["customer_id", "method"],
       ["Switch {customer_id} to pay by {method}.", "Use {method} ending {card_last4} for account {customer_id}."],
       ["Client {customer_id} wants to pay via {method} from now on."],
       ["Make it pay by {method}."], ["Have that one pay via {method}."],
       "I want to change how I pay.", "Switch my payment option.",
       "{customer_id} now pays by {method}, from {effective}.", "change a payment method"),
    # travel
    _t("search_flights", "travel", "Search flights between two cities.",
       {"origin": CITY, "destination": CITY, "date": DATE,
        "passengers": {"type": "integer", "minimum": 1, "maximum": 9},
        "cabin": {"type": "string", "enum": ["economy", "premium", "business"]}}, ["origin", "destination", "date"],
       ["Find flights from {origin} to {destination} on {date}.",
        "I need {passengers} {cabin} seats {origin} to {destination} on {date}."],
       ["Any planes leaving {origin} for {destination} on {date}? {passengers} of us, {cabin}."],
       ["Find me flights from there to {destination} on {date}."], ["Any planes out of there to {destination} on {date}?"],
       "Find me a flight.", "I need to fly somewhere.",
       "Cheapest {origin}-{destination} on {date}: {flight} at {price} USD, departs {departs}.", "search flights"),
    _t("book_hotel", "travel", "Book a hotel room.",
       {"city": CITY, "check_in": DATE, "nights": {"type": "integer", "minimum": 1, "maximum": 30},
        "guests": {"type": "integer", "minimum": 1, "maximum": 8}}, ["city", "check_in", "nights"],
       ["Book a hotel in {city} from {check_in} for {nights} nights.",
        "Hotel in {city}, check-in {check_in}, {nights} nights, {guests} guests."],
       ["Reserve me a room: {city}, arriving {check_in}, staying {nights} nights, {guests} people."],
       ["Book me a hotel there from {check_in} for {nights} nights."], ["Get me a room there, arriving {check_in}, {nights} nights."],
       "Book me a hotel.", "Reserve me a room.",
       "Booked {hotel} in {city} from {check_in}, {nights} nights, ref {booking_ref}.", "book a hotel"),
    _t("get_booking", "travel", "Look up a booking by reference.",
       {"booking_ref": {"type": "string", "pattern": "^[A-Z]{2}[0-9]{4}$"}}, ["booking_ref"],
       ["Show booking {booking_ref}.", "What are the details of reservation {booking_ref}?"],
       ["Pull up itinerary {booking_ref}."],
       ["What are the details of that booking?"], ["Pull up that itinerary."],
       "What are my booking details?", "Pull up my itinerary.",
       "Booking {booking_ref}: {kind} in {city} on {date}, {status}.", "look up a booking"),
    # weather
    _t("get_current_weather", "weather", "Current weather in a city.", {"city": CITY, "units": UNITS}, ["city"],
       ["What's the weather in {city}?", "How warm is it in {city} right now, in {units}?"],
       ["Is it nice out in {city} at the moment? Give me {units}."],
       ["And the weather there right now?"], ["Is it nice out there now?"],
       "What's the weather like?", "Is it nice out?",
       "It is {temperature} degrees {units} and {condition} in {city}.", "get the current weather"),
    _t("get_forecast", "weather", "Weather forecast for the next days.",
       {"city": CITY, "days": {"type": "integer", "minimum": 1, "maximum": 7}, "units": UNITS}, ["city", "days"],
       ["Forecast for {city} for the next {days} days?", "Give me a {days}-day forecast for {city} in {units}."],
       ["What will the skies over {city} do over {days} days? Use {units}."],
       ["What about the next {days} days there?"], ["And over {days} days there?"],
       "What's the forecast?", "Will it rain this week?",
       "Next {days} days in {city}: {summary}, highs up to {high} {units}.", "get a forecast"),
    # calendar
    _t("create_event", "calendar", "Create a calendar event.",
       {"title": S, "date": DATE, "start_time": {"type": "string", "pattern": "^[0-2][0-9]:[0-5][0-9]$"},
        "duration_minutes": {"type": "integer", "minimum": 5, "maximum": 480},
        "attendees": {"type": "array", "items": {"type": "string", "format": "email"}}},
       ["title", "date", "start_time"],
       ["Schedule '{title}' on {date} at {start_time}.",
        "Put '{title}' on {date} at {start_time} for {duration_minutes} minutes with {attendees}."],
       ["Pencil in '{title}', {date}, {start_time}, {duration_minutes} min, invite {attendees}."],
       ["Put it in the calendar on {date} at {start_time}."], ["Pencil that in for {date}, {start_time}."],
       "Schedule a meeting for me.", "Pencil something in.",
       "'{title}' is booked on {date} at {start_time} ({event_id}).", "create an event"),
    _t("list_events", "calendar", "List the events on a date.", {"date": DATE}, ["date"],
       ["What's on my calendar on {date}?", "List my events for {date}."],
       ["Am I busy on {date}?"],
       ["What do I have that day?"], ["Am I busy that day?"],
       "What's on my calendar?", "Am I busy?",
       "On {date} you have {count} events; first: {first}.", "list events"),
    _t("cancel_event", "calendar", "Cancel a calendar event.",
       {"event_id": {"type": "string", "pattern": "^EV[0-9]{5}$"}, "notify": {"type": "boolean"}}, ["event_id"],
       ["Cancel event {event_id}.", "Remove {event_id} from my calendar, notify: {notify}."],
       ["Drop meeting {event_id}; tell attendees: {notify}."],
       ["Cancel that event."], ["Drop that meeting."],
       "Cancel my meeting.", "Drop my appointment.",
       "Event {event_id} is cancelled; {notified} attendees notified.", "cancel an event"),
    # banking
    _t("get_balance", "banking", "Get the balance of a bank account.", {"account_id": ACCOUNT}, ["account_id"],
       ["What's the balance of {account_id}?", "How much money is in account {account_id}?"],
       ["How much have I got in {account_id}?"],
       ["How much is in it?"], ["How much have I got there?"],
       "What's my balance?", "How much have I got?",
       "Account {account_id} holds {balance} {currency} (available {available}).", "check a balance"),
    _t("transfer_funds", "banking", "Transfer money between accounts.",
       {"from_account": ACCOUNT, "to_account": ACCOUNT, "amount": {"type": "number", "exclusiveMinimum": 0},
        "currency": {"type": "string", "enum": ["USD", "EUR", "GBP"]}}, ["from_account", "to_account", "amount"],
       ["Transfer {amount} {currency} from {from_account} to {to_account}.",
        "Move {amount} from {from_account} to {to_account}."],
       ["Wire {amount} {currency} out of {from_account} into {to_account}."],
       ["Move {amount} {currency} from it to {to_account}."], ["Wire {amount} out of there into {to_account}."],
       "I want to transfer money.", "Wire some money for me.",
       "Sent {amount} {currency} from {from_account} to {to_account}, ref {transfer_id}.", "transfer money"),
    _t("list_transactions", "banking", "List the transactions of an account between two dates.",
       {"account_id": ACCOUNT, "start_date": DATE, "end_date": DATE, "min_amount": {"type": "number", "minimum": 0}},
       ["account_id", "start_date", "end_date"],
       ["List transactions on {account_id} from {start_date} to {end_date}.",
        "Show payments over {min_amount} on {account_id} between {start_date} and {end_date}."],
       ["What went through {account_id} from {start_date} until {end_date}, above {min_amount}?"],
       ["List its transactions from {start_date} to {end_date}."], ["What went through there {start_date} to {end_date}?"],
       "Show my transactions.", "What went through my account?",
       "{account_id} had {count} transactions from {start_date} to {end_date}, largest {largest}.", "list transactions"),
    # subscriptions
    _t("get_subscription", "subscriptions", "Get a customer's subscription plan.", {"customer_id": CUSTOMER},
       ["customer_id"],
       ["Which plan is {customer_id} on?", "Show the subscription of {customer_id}."],
       ["What membership does client {customer_id} have?"],
       ["Which plan is it on?"], ["What membership is that?"],
       "Which plan am I on?", "What membership do I have?",
       "{customer_id} is on the {plan} plan, renewing {renews}.", "look up a subscription"),
    _t("change_plan", "subscriptions", "Change a subscription plan.",
       {"customer_id": CUSTOMER, "plan": {"type": "string", "enum": ["basic", "standard", "premium"]},
        "billing_cycle": {"type": "string", "enum": ["monthly", "yearly"]}}, ["customer_id", "plan"],
       ["Move {customer_id} to the {plan} plan.", "Switch {customer_id} to {plan}, billed {billing_cycle}."],
       ["Put client {customer_id} on {plan}, {billing_cycle} billing."],
       ["Switch it to {plan}."], ["Put that one on {plan}."],
       "I want to change my plan.", "Put me on another membership.",
       "{customer_id} moves to {plan} on {effective}, {price} USD per cycle.", "change a plan"),
    _t("pause_subscription", "subscriptions", "Pause a subscription for some weeks.",
       {"customer_id": CUSTOMER, "weeks": {"type": "integer", "minimum": 1, "maximum": 12}}, ["customer_id", "weeks"],
       ["Pause {customer_id} for {weeks} weeks.", "Put subscription {customer_id} on hold for {weeks} weeks."],
       ["Freeze client {customer_id}'s membership {weeks} weeks."],
       ["Pause it for {weeks} weeks."], ["Freeze that for {weeks} weeks."],
       "I want to pause my subscription.", "Freeze my membership.",
       "{customer_id} is paused until {resumes}.", "pause a subscription"),
    # restaurants (held out: test_task)
    _t("find_restaurants", "restaurants", "Find restaurants in a city.",
       {"city": CITY, "cuisine": {"type": "string", "enum": ["italian", "japanese", "mexican", "indian", "french"]},
        "party_size": {"type": "integer", "minimum": 1, "maximum": 20}}, ["city"],
       ["Find restaurants in {city}.", "Any {cuisine} places in {city} for {party_size}?"],
       ["Where can {party_size} of us eat {cuisine} food in {city}?"],
       ["Any restaurants there?"], ["Where can we eat there?"],
       "Find me a restaurant.", "Where can we eat?",
       "Top pick in {city}: {restaurant} ({restaurant_id}), rated {rating}.", "find restaurants"),
    _t("make_reservation", "restaurants", "Reserve a table.",
       {"restaurant_id": {"type": "string", "pattern": "^R[0-9]{4}$"}, "date": DATE,
        "time": {"type": "string", "pattern": "^[0-2][0-9]:[0-5][0-9]$"},
        "party_size": {"type": "integer", "minimum": 1, "maximum": 20}}, ["restaurant_id", "date", "time", "party_size"],
       ["Reserve {restaurant_id} on {date} at {time} for {party_size}.", "Table for {party_size} at {restaurant_id}, {date} {time}."],
       ["Grab us seats at {restaurant_id}: {party_size} people, {date}, {time}."],
       ["Book a table there on {date} at {time} for {party_size}."], ["Grab seats there, {date} {time}, {party_size} people."],
       "Book me a table.", "Grab us seats somewhere.",
       "Table for {party_size} at {restaurant_id} on {date} {time}, confirmation {confirmation}.", "reserve a table"),
    _t("cancel_reservation", "restaurants", "Cancel a table reservation.",
       {"confirmation": {"type": "string", "pattern": "^T[0-9]{5}$"}}, ["confirmation"],
       ["Cancel reservation {confirmation}.", "Please drop table booking {confirmation}."],
       ["We can't make it, scrap {confirmation}."],
       ["Cancel that reservation."], ["Scrap that table."],
       "Cancel my table.", "We can't make it tonight.",
       "Reservation {confirmation} is cancelled.", "cancel a reservation"),
    # insurance (held out: test_task)
    _t("get_policy", "insurance", "Get an insurance policy.", {"policy_id": {"type": "string", "pattern": "^P[0-9]{6}$"}},
       ["policy_id"],
       ["Show policy {policy_id}.", "What does policy {policy_id} cover?"],
       ["Details of cover {policy_id}?"],
       ["What does it cover?"], ["Details of that cover?"],
       "What does my policy cover?", "Tell me about my cover.",
       "Policy {policy_id}: {kind} cover up to {limit} USD, deductible {deductible}.", "look up a policy"),
    _t("file_claim", "insurance", "File an insurance claim.",
       {"policy_id": {"type": "string", "pattern": "^P[0-9]{6}$"}, "incident_date": DATE,
        "amount": {"type": "number", "exclusiveMinimum": 0},
        "category": {"type": "string", "enum": ["theft", "accident", "water_damage", "fire"]}},
       ["policy_id", "incident_date", "amount"],
       ["File a claim on {policy_id} for {amount} USD, incident on {incident_date}.",
        "Claim {amount} on policy {policy_id}: {category} on {incident_date}."],
       ["I need to claim {amount} under {policy_id}, {category}, it happened {incident_date}."],
       ["File a claim on it for {amount} USD, incident on {incident_date}."], ["Claim {amount} under that, it happened {incident_date}."],
       "I want to file a claim.", "I need to claim something.",
       "Claim {claim_id} for {amount} USD on {policy_id} is {status}.", "file a claim"),
    _t("get_claim_status", "insurance", "Get the status of a claim.", {"claim_id": {"type": "string", "pattern": "^CL[0-9]{5}$"}},
       ["claim_id"],
       ["What's the status of claim {claim_id}?", "Any update on claim {claim_id}?"],
       ["Where is claim {claim_id} at?"],
       ["Any update on that claim?"], ["Where is that claim at?"],
       "Any update on my claim?", "Where is my claim at?",
       "Claim {claim_id} is {status}; payout {payout} USD.", "check a claim"),
)

TOOLS_BY_NAME: dict[str, ToolDef] = {t.name: t for t in TOOLS}
DOMAINS: tuple[str, ...] = tuple(dict.fromkeys(t.domain for t in TOOLS))


def domain_tools(domain: str) -> list[ToolDef]:
    return [t for t in TOOLS if t.domain == domain]
