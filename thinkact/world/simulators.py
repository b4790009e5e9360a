"""Deterministic simulated tools: `simulate(name, arguments)` returns the tool result as a dict.

The same call always gives the same result (the random stream is seeded by a hash of the call), so
answers written from a result are grounded in it and reproducible byte for byte.
"""
from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable
from typing import Any


def _rng(name: str, args: dict[str, Any]) -> random.Random:
    digest = hashlib.sha256(f"{name}:{json.dumps(args, sort_keys=True)}".encode()).hexdigest()
    return random.Random(int(digest[:16], 16))


def _date(r: random.Random, year: int = 2026) -> str:
    return f"{year}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}"


def _money(r: random.Random, lo: int, hi: int) -> float:
    return round(r.uniform(lo, hi), 2)


SIMULATORS: dict[str, Callable[[dict[str, Any], random.Random], dict[str, Any]]] = {
    "get_order_status": lambda a, r: {"order_id": a["order_id"], "eta": _date(r),
                                      "status": r.choice(["processing", "shipped", "delivered", "on hold"])},
    "track_shipment": lambda a, r: {"order_id": a["order_id"], "location": r.choice(["Memphis hub", "Leipzig hub",
                                    "local depot", "out for delivery"]), "last_scan": f"{r.randint(6, 22):02d}:{r.randint(0, 59):02d}"},
    "cancel_order": lambda a, r: {"order_id": a["order_id"], "result": r.choice(["refund issued", "no charge made"])},
    "change_delivery_address": lambda a, r: {"order_id": a["order_id"], "city": a["address"]["city"], "eta": _date(r)},
    "request_refund": lambda a, r: {"refund_id": f"RF-{r.randint(10000, 99999)}", "amount": a["amount"],
                                    "status": r.choice(["approved", "pending review"])},
    "get_refund_status": lambda a, r: {"refund_id": a["refund_id"], "status": r.choice(["approved", "paid", "pending"]),
                                       "amount": _money(r, 5, 500), "paid_by": _date(r)},
    "list_returnable_items": lambda a, r: (lambda items: {"order_id": a["order_id"], "count": len(items),
                                           "items": ", ".join(items)})(
        sorted(r.sample(["headphones", "charger", "jacket", "mug", "lamp", "backpack", "shoes"], r.randint(1, 3)))),
    "get_account_info": lambda a, r: {"customer_id": a["customer_id"], "since": str(r.randint(2012, 2025)),
                                      "name": r.choice(["J. Ortiz", "M. Chen", "S. Patel", "L. Dubois"]),
                                      "tier": r.choice(["silver", "gold", "platinum"])},
    "update_email": lambda a, r: {"customer_id": a["customer_id"], "email": a["email"]},
    "reset_password": lambda a, r: {"email": a["email"], "expires_minutes": r.choice([15, 30, 60])},
    "get_invoice": lambda a, r: {"invoice_id": a["invoice_id"], "total": _money(r, 20, 900), "currency": "USD",
                                 "status": r.choice(["paid", "unpaid", "overdue"]), "due": _date(r)},
    "list_invoices": lambda a, r: {"customer_id": a["customer_id"], "count": r.randint(1, 12),
                                   "total": _money(r, 50, 4000)},
    "update_payment_method": lambda a, r: {"customer_id": a["customer_id"], "method": a["method"], "effective": _date(r)},
    "search_flights": lambda a, r: {"origin": a["origin"], "destination": a["destination"], "date": a["date"],
                                    "flight": f"{r.choice(['TA', 'KX', 'LM'])}{r.randint(100, 999)}",
                                    "price": r.randint(80, 1200), "departs": f"{r.randint(5, 22):02d}:{r.choice(['05', '35', '50'])}"},
    "book_hotel": lambda a, r: {"city": a["city"], "check_in": a["check_in"], "nights": a["nights"],
                                "hotel": r.choice(["Hotel Aurora", "Grand Plaza", "City Inn", "Harbor Lodge"]),
                                "booking_ref": f"HB{r.randint(1000, 9999)}"},
    "get_booking": lambda a, r: {"booking_ref": a["booking_ref"], "kind": r.choice(["flight", "hotel", "car"]),
                                 "city": r.choice(["Lyon", "Geneva", "Miami", "Athens"]), "date": _date(r),
                                 "status": r.choice(["confirmed", "waitlisted", "cancelled"])},
    "get_current_weather": lambda a, r: {"city": a["city"], "units": a.get("units", "celsius"),
                                         "temperature": r.randint(-5, 35) if a.get("units", "celsius") == "celsius"
                                         else r.randint(23, 95), "condition": r.choice(["sunny", "cloudy", "rainy", "windy"])},
    "get_forecast": lambda a, r: {"city": a["city"], "days": a["days"], "units": a.get("units", "celsius"),
                                  "summary": r.choice(["mostly sunny", "showers", "mixed clouds", "storms midweek"]),
                                  "high": r.randint(5, 35) if a.get("units", "celsius") == "celsius" else r.randint(41, 95)},
    "create_event": lambda a, r: {"title": a["title"], "date": a["date"], "start_time": a["start_time"],
                                  "event_id": f"EV{r.randint(10000, 99999)}"},
    "list_events": lambda a, r: {"date": a["date"], "count": r.randint(1, 5),
                                 "first": f"{r.choice(['Standup', 'Review', 'Call'])} at {r.randint(8, 11)}:00"},
    "cancel_event": lambda a, r: {"event_id": a["event_id"], "notified": r.randint(0, 6) if a.get("notify", True) else 0},
    "get_balance": lambda a, r: (lambda b: {"account_id": a["account_id"], "balance": b, "currency": "USD",
                                            "available": round(b - r.randint(0, 200), 2)})(_money(r, 200, 9000)),
    "transfer_funds": lambda a, r: {"from_account": a["from_account"], "to_account": a["to_account"],
                                    "amount": a["amount"], "currency": a.get("currency", "USD"),
                                    "transfer_id": f"TX{r.randint(100000, 999999)}"},
    "list_transactions": lambda a, r: {"account_id": a["account_id"], "start_date": a["start_date"],
                                       "end_date": a["end_date"], "count": r.randint(0, 40), "largest": _money(r, 10, 3000)},
    "get_subscription": lambda a, r: {"customer_id": a["customer_id"], "plan": r.choice(["basic", "standard", "premium"]),
                                      "renews": _date(r)},
    "change_plan": lambda a, r: {"customer_id": a["customer_id"], "plan": a["plan"], "effective": _date(r),
                                 "price": {"basic": 9, "standard": 15, "premium": 25}[a["plan"]]
                                 * (10 if a.get("billing_cycle") == "yearly" else 1)},
    "pause_subscription": lambda a, r: {"customer_id": a["customer_id"], "resumes": _date(r)},
    "find_restaurants": lambda a, r: {"city": a["city"], "restaurant_id": f"R{r.randint(1000, 9999)}",
                                      "restaurant": r.choice(["Luna", "Sakura", "El Patio", "Masala House"]),
                                      "rating": round(r.uniform(3.5, 5.0), 1)},
    "make_reservation": lambda a, r: {"restaurant_id": a["restaurant_id"], "date": a["date"], "time": a["time"],
                                      "party_size": a["party_size"], "confirmation": f"T{r.randint(10000, 99999)}"},
    "cancel_reservation": lambda a, r: {"confirmation": a["confirmation"], "status": "cancelled"},
    "get_policy": lambda a, r: {"policy_id": a["policy_id"], "kind": r.choice(["home", "car", "travel"]),
                                "limit": r.randint(5, 500) * 1000, "deductible": r.choice([100, 250, 500])},
    "file_claim": lambda a, r: {"claim_id": f"CL{r.randint(10000, 99999)}", "policy_id": a["policy_id"],
                                "amount": a["amount"], "status": r.choice(["received", "under review"])},
    "get_claim_status": lambda a, r: {"claim_id": a["claim_id"], "status": r.choice(["approved", "rejected", "under review"]),
                                      "payout": r.randint(0, 5000)},
}


def simulate(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """The result of calling tool `name` with `arguments` (deterministic)."""
    return SIMULATORS[name](arguments, _rng(name, arguments))
