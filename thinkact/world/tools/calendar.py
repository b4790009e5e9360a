"""Calendar: creating, listing and cancelling events."""
from __future__ import annotations

from thinkact.world.tooldef import DATE, S, ToolDef

DOMAIN = "calendar"

TOOLS = (
    ToolDef(
        name="create_event",
        domain=DOMAIN,
        description="Create a calendar event.",
        properties={"title": S, "date": DATE, "start_time": {"type": "string", "pattern": "^[0-2][0-9]:[0-5][0-9]$"},
                    "duration_minutes": {"type": "integer", "minimum": 5, "maximum": 480},
                    "attendees": {"type": "array", "items": {"type": "string", "format": "email"}}},
        required=("title", "date", "start_time"),
        requests=("Schedule '{title}' on {date} at {start_time}.",
                  "Put '{title}' on {date} at {start_time} for {duration_minutes} minutes with {attendees}."),
        requests_env=("Pencil in '{title}', {date}, {start_time}, {duration_minutes} min, invite {attendees}.",),
        followups=("Put it in the calendar on {date} at {start_time}.",),
        followups_env=("Pencil that in for {date}, {start_time}.",),
        vague="Schedule a meeting for me.",
        vague_env="Pencil something in.",
        answer="'{title}' is booked on {date} at {start_time} ({event_id}).",
        intent="create an event",
        simulate=lambda a, r: {"title": a["title"], "date": a["date"], "start_time": a["start_time"],
                               "event_id": f"EV{r.randint(10000, 99999)}"},
    ),
    ToolDef(
        name="list_events",
        domain=DOMAIN,
        description="List the events on a date.",
        properties={"date": DATE},
        required=("date",),
        requests=("What's on my calendar on {date}?", "List my events for {date}."),
        requests_env=("Am I busy on {date}?",),
        followups=("What do I have that day?",),
        followups_env=("Am I busy that day?",),
        vague="What's on my calendar?",
        vague_env="Am I busy?",
        answer="On {date} you have {count} events; first: {first}.",
        intent="list events",
        simulate=lambda a, r: {"date": a["date"], "count": r.randint(1, 5),
                               "first": f"{r.choice(['Standup', 'Review', 'Call'])} at {r.randint(8, 11)}:00"},
    ),
    ToolDef(
        name="cancel_event",
        domain=DOMAIN,
        description="Cancel a calendar event.",
        properties={"event_id": {"type": "string", "pattern": "^EV[0-9]{5}$"}, "notify": {"type": "boolean"}},
        required=("event_id",),
        requests=("Cancel event {event_id}.", "Remove {event_id} from my calendar, notify: {notify}."),
        requests_env=("Drop meeting {event_id}; tell attendees: {notify}.",),
        followups=("Cancel that event.",),
        followups_env=("Drop that meeting.",),
        vague="Cancel my meeting.",
        vague_env="Drop my appointment.",
        answer="Event {event_id} is cancelled; {notified} attendees notified.",
        intent="cancel an event",
        simulate=lambda a, r: {"event_id": a["event_id"],
                               "notified": r.randint(0, 6) if a.get("notify", True) else 0},
    ),
)
