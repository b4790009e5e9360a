"""Weather: now and the next days."""
from __future__ import annotations

from thinkact.world.tooldef import CITY, ToolDef, UNITS

DOMAIN = "weather"


def _celsius(a):
    return a.get("units", "celsius") == "celsius"


TOOLS = (
    ToolDef(
        name="get_current_weather",
        domain=DOMAIN,
        description="Current weather in a city.",
        properties={"city": CITY, "units": UNITS},
        required=("city",),
        requests=("What's the weather in {city}?", "How warm is it in {city} right now, in {units}?"),
        requests_env=("Is it nice out in {city} at the moment? Give me {units}.",),
        followups=("And the weather there right now?",),
        followups_env=("Is it nice out there now?",),
        vague="What's the weather like?",
        vague_env="Is it nice out?",
        answer="It is {temperature} degrees {units} and {condition} in {city}.",
        intent="get the current weather",
        simulate=lambda a, r: {"city": a["city"], "units": a.get("units", "celsius"),
                               "temperature": r.randint(-5, 35) if _celsius(a) else r.randint(23, 95),
                               "condition": r.choice(["sunny", "cloudy", "rainy", "windy"])},
    ),
    ToolDef(
        name="get_forecast",
        domain=DOMAIN,
        description="Weather forecast for the next days.",
        properties={"city": CITY, "days": {"type": "integer", "minimum": 1, "maximum": 7}, "units": UNITS},
        required=("city", "days"),
        requests=("Forecast for {city} for the next {days} days?",
                  "Give me a {days}-day forecast for {city} in {units}."),
        requests_env=("What will the skies over {city} do over {days} days? Use {units}.",),
        followups=("What about the next {days} days there?",),
        followups_env=("And over {days} days there?",),
        vague="What's the forecast?",
        vague_env="Will it rain this week?",
        answer="Next {days} days in {city}: {summary}, highs up to {high} {units}.",
        intent="get a forecast",
        simulate=lambda a, r: {"city": a["city"], "days": a["days"], "units": a.get("units", "celsius"),
                               "summary": r.choice(["mostly sunny", "showers", "mixed clouds", "storms midweek"]),
                               "high": r.randint(5, 35) if _celsius(a) else r.randint(41, 95)},
    ),
)
