"""Writes the worked example's "logged" conversations: examples/units/conversations/{train,test_id}.jsonl.

They stand in for a team's logs of an assistant that used the tools of tools.py: OpenAI-format chat lines
({"id", "messages", "tools"}), assistant tool calls with their arguments as JSON text, tool messages holding the
REAL results of calling tools.py, and a final answer that states the result values as the tool gave them. The
conversations are of five kinds — one call; a chain (the second call uses the first's result); two calls in
parallel; a clarifying question first (the opening leaves out a value); no tool (a greeting, a question about what
the assistant can do, a request no tool serves) — with varied phrasings. test_id draws the same kinds and phrasings
with other values, and none of its opening messages occurs in train.

Deterministic (a fixed seed): rerunning it rewrites the same bytes.

    python examples/units/make_conversations.py            # writes examples/units/conversations/ and tools.json
    python examples/units/make_conversations.py --out DIR --tools-json FILE

It also writes the tools' schemas, as every conversation offers them, to examples/units/tools.json (a JSON list of
OpenAI function schemas): what `thinkact chat --tools` and an OpenAI client send, and what
`episodes.tools: {source: python, module: examples/units/tools.py, schemas: examples/units/tools.json}` declares.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
from pathlib import Path
from typing import Any, Callable

from transformers.utils import get_json_schema

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import tools as units  # noqa: E402 - the example's tools, beside this file

SEED = 20260105
SIZES = {"train": {"single": 14, "chain": 6, "parallel": 6, "clarify": 8, "no_tool": 6},
         "test_id": {"single": 4, "chain": 2, "parallel": 2, "clarify": 2, "no_tool": 2}}
SYSTEM = ("You are a helpful assistant with a unit converter and a calendar. Call a tool when one fits; ask if a "
          "detail is missing.")

# How people name the units (the tools take the short names of tools.UNITS).
WORDS = {"mm": ["mm", "millimeters"], "cm": ["cm", "centimeters"], "m": ["meters"], "km": ["km", "kilometers"],
         "in": ["inches"], "ft": ["feet"], "yd": ["yards"], "mi": ["miles"], "mg": ["milligrams"], "g": ["grams"],
         "kg": ["kg", "kilograms"], "oz": ["ounces"], "lb": ["pounds"], "ml": ["ml", "milliliters"],
         "l": ["liters"], "fl_oz": ["fluid ounces"], "cup": ["cups"], "pt": ["pints"], "qt": ["quarts"],
         "gal": ["gallons"], "celsius": ["degrees Celsius"], "fahrenheit": ["degrees Fahrenheit"],
         "kelvin": ["kelvin"]}
PAIRS = [("km", "mi"), ("mi", "km"), ("m", "ft"), ("ft", "m"), ("in", "cm"), ("cm", "in"), ("kg", "lb"),
         ("lb", "kg"), ("oz", "g"), ("g", "oz"), ("l", "gal"), ("gal", "l"), ("cup", "ml"), ("ml", "fl_oz"),
         ("fahrenheit", "celsius"), ("celsius", "fahrenheit"), ("celsius", "kelvin"), ("yd", "m"), ("mm", "in"),
         ("qt", "l"), ("pt", "ml")]
# Units a clarifying exchange may hold back: long enough not to occur by chance inside an opening message.
HELD_UNITS = {"length": ["km", "mi", "cm", "ft", "yd"], "mass": ["kg", "lb", "oz"], "volume": ["gal", "ml", "cup"],
              "temperature": ["celsius", "fahrenheit", "kelvin"]}

CONVERT = ["How many {to} is {value} {src}?", "Convert {value} {src} to {to}, please.", "What's {value} {src} in {to}?",
           "I have {value} {src}. How much is that in {to}?", "Quick one: {value} {src} in {to}?",
           "Could you turn {value} {src} into {to}?"]
BETWEEN = ["How many days are there between {start} and {end}?", "Count the days from {start} to {end}.",
           "How long is it from {start} until {end}, in days?", "Days from {start} to {end}?"]
ADD = ["What date is {days} days after {date}?", "If I start on {date}, what's the date {days} days later?",
       "Add {days} days to {date} for me.", "What's the date {days} days from {date}?"]
SUBTRACT = ["What was the date {n} days before {date}?", "Go back {n} days from {date}: which date is it?"]
WEEKDAY = ["What day of the week is {date}?", "Which weekday does {date} fall on?", "On what day of the week is {date}?",
           "Tell me the day of the week for {date}."]
CHAIN_WEEKDAY = ["What day of the week will it be {days} days after {date}?",
                 "Which weekday is {days} days from {date}?",
                 "My trial starts {date} and lasts {days} days. On which weekday does it end?"]
CHAIN_BETWEEN = ["I leave on {date} for {days} days. When do I come back, and how many days is that before {end}?",
                 "A project starts {date} and runs {days} days. What's the end date, and how many days from then "
                 "to {end}?"]
PARALLEL_CONVERT = ["Convert {v1} {s1} to {t1} and {v2} {s2} to {t2}.", "Two things: {v1} {s1} in {t1}, and {v2} "
                    "{s2} in {t2}?", "How much is {v1} {s1} in {t1}? And {v2} {s2} in {t2}?"]
PARALLEL_WEEKDAY = ["What days of the week are {d1} and {d2}?", "Which weekdays are {d1} and {d2}?"]
PARALLEL_MIXED = ["What weekday is {date}, and how many {to} is {value} {src}?"]
NO_TOOL = [  # (opening, answer)
    ("Hi there!", "Hello! I can convert units and work with dates. What do you need?"),
    ("Good morning.", "Good morning! What can I convert or count for you?"),
    ("Thanks, that's all.", "You're welcome! Have a great day."),
    ("What can you do?", "I can convert lengths, masses, volumes and temperatures, count the days between two dates, "
                         "add days to a date and tell the weekday of a date."),
    ("What's the weather in Paris tomorrow?", "Sorry, I can't check the weather: my tools only convert units and "
                                              "work with dates."),
    ("Can you book me a flight to Rome?", "Sorry, I can't book flights: my tools only convert units and work with "
                                          "dates."),
    ("Hello, anyone there?", "Yes, I'm here! Ask me to convert a unit or count days."),
    ("Tell me a joke.", "I'm better with units and dates than jokes. Anything to convert or count?"),
    ("What's the exchange rate of euros to dollars?", "Sorry, I can't look up exchange rates: my tools only convert "
                                                      "units and work with dates."),
    ("Thank you so much!", "Happy to help! Anything else?"),
]
CLARIFY_UNIT = [("Can you convert {value} {src} for me?", "Sure. Which unit should I convert {value} {src} to?",
                 "To {held}, please."),
                ("I need {value} {src} in another unit.", "Happy to help. Which unit do you want?", "Make it {held}.")]
CLARIFY_WEEKDAY = [("What day of the week is my birthday this year?",
                    "Which date is your birthday this year (YYYY-MM-DD)?", "It's {held}."),
                   ("Which weekday is my dentist appointment on?", "What is the date of the appointment?",
                    "The appointment is on {held}.")]
CLARIFY_BETWEEN = [("How many days until my exam? Today is {start}.", "When is your exam?", "On {held}."),
                   ("Today is {start}. How many days are left before my holiday starts?",
                    "Which date does your holiday start?", "It starts {held}.")]
CLARIFY_ADD = [("My course starts on {date}. When does it finish?", "How many days does the course last?",
                "{held} days."),
               ("I got a {date} delivery notice. When is the deadline to return it?",
                "How many days do you have to return it?", "{held} days from the notice.")]


def tool_schemas() -> list[dict[str, Any]]:
    """The tools as an assistant that uses tools.py offers them (OpenAI function schemas, from the docstrings)."""
    out = []
    for fn in units.TOOLS:
        function = get_json_schema(fn)["function"]
        out.append({"type": "function", "function": {k: function[k] for k in ("name", "description", "parameters")}})
    return out


def show(value: Any) -> str:
    """A value as the answers write it (a whole float without its .0)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class Conversation:
    """One logged conversation, built turn by turn; every call runs the real tool."""

    def __init__(self, opening: str):
        self.messages: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM},
                                               {"role": "user", "content": opening}]
        self.calls = 0

    def call(self, *calls: tuple[Callable[..., dict], dict[str, Any]]) -> list[dict[str, Any]]:
        """One assistant message with these calls, then one tool message per call; the results."""
        ids, results = [], []
        for fn, arguments in calls:
            self.calls += 1
            ids.append(f"call_{self.calls}")
            results.append(fn(**arguments))
        self.messages.append({"role": "assistant", "content": None, "tool_calls": [
            {"id": i, "type": "function", "function": {"name": fn.__name__, "arguments": json.dumps(arguments)}}
            for i, (fn, arguments) in zip(ids, calls)]})
        for i, result in zip(ids, results):
            self.messages.append({"role": "tool", "tool_call_id": i, "content": json.dumps(result)})
        return results

    def say(self, text: str) -> "Conversation":
        self.messages.append({"role": "assistant", "content": text})
        return self

    def hear(self, text: str) -> "Conversation":
        self.messages.append({"role": "user", "content": text})
        return self


class Draw:
    """Random values for one split (its own stream)."""

    def __init__(self, rng: random.Random):
        self.rng = rng

    def date(self) -> str:
        return (dt.date(2025, 1, 1) + dt.timedelta(days=self.rng.randrange(3 * 365))).isoformat()

    def later(self, date: str, low: int, high: int) -> str:
        return (dt.date.fromisoformat(date) + dt.timedelta(days=self.rng.randint(low, high))).isoformat()

    def value(self, unit: str) -> int | float:
        if unit in ("fahrenheit", "celsius", "kelvin"):
            return {"fahrenheit": self.rng.choice([-40, 32, 45, 68, 72, 98.6, 104]),
                    "celsius": self.rng.choice([-10, 0, 21.5, 37, 100, 180]),
                    "kelvin": self.rng.choice([0, 273.15, 300])}[unit]
        if self.rng.random() < 0.6:
            return self.rng.randint(1, 250)
        return round(self.rng.uniform(0.5, 100), 1)

    def conversion(self, pair: tuple[str, str] | None = None) -> tuple[dict[str, Any], str, str]:
        """Arguments of a convert_units call and how the user names the two units."""
        src, dst = pair or self.rng.choice(PAIRS)
        return ({"value": self.value(src), "from_unit": src, "to_unit": dst}, self.rng.choice(WORDS[src]),
                self.rng.choice(WORDS[dst]))


def single(d: Draw) -> Conversation:
    rng = d.rng
    tool = rng.choice(["convert_units", "convert_units", "days_between", "add_days", "weekday"])
    if tool == "convert_units":
        args, src, dst = d.conversion()
        c = Conversation(rng.choice(CONVERT).format(value=show(args["value"]), src=src, to=dst))
        (r,) = c.call((units.convert_units, args))
        return c.say(f"{show(args['value'])} {src} is {show(r['result'])} {dst}.")
    if tool == "days_between":
        start = d.date()
        end = d.later(start, 3, 400)
        c = Conversation(rng.choice(BETWEEN).format(start=start, end=end))
        (r,) = c.call((units.days_between, {"start_date": start, "end_date": end}))
        return c.say(f"There are {r['days']} days from {start} to {end}.")
    if tool == "add_days":
        date, days = d.date(), rng.randint(2, 365)
        if rng.random() < 0.3:
            c = Conversation(rng.choice(SUBTRACT).format(n=days, date=date))
            (r,) = c.call((units.add_days, {"date": date, "days": -days}))
            return c.say(f"{days} days before {date} was {r['result_date']}.")
        c = Conversation(rng.choice(ADD).format(days=days, date=date))
        (r,) = c.call((units.add_days, {"date": date, "days": days}))
        return c.say(f"{days} days after {date} is {r['result_date']}.")
    date = d.date()
    c = Conversation(rng.choice(WEEKDAY).format(date=date))
    (r,) = c.call((units.weekday, {"date": date}))
    return c.say(f"{date} is a {r['weekday']}.")


def chain(d: Draw) -> Conversation:
    rng = d.rng
    date, days = d.date(), rng.randint(3, 200)
    if rng.random() < 0.6:
        c = Conversation(rng.choice(CHAIN_WEEKDAY).format(days=days, date=date))
        (r,) = c.call((units.add_days, {"date": date, "days": days}))
        (w,) = c.call((units.weekday, {"date": r["result_date"]}))
        return c.say(f"{days} days after {date} is {r['result_date']}, a {w['weekday']}.")
    end = d.later(date, days + 5, days + 120)
    c = Conversation(rng.choice(CHAIN_BETWEEN).format(date=date, days=days, end=end))
    (r,) = c.call((units.add_days, {"date": date, "days": days}))
    (b,) = c.call((units.days_between, {"start_date": r["result_date"], "end_date": end}))
    return c.say(f"That ends on {r['result_date']}, which is {b['days']} days before {end}.")


def parallel(d: Draw) -> Conversation:
    rng = d.rng
    shape = rng.choice(["convert", "convert", "weekday", "mixed"])
    if shape == "convert":
        (a1, s1, t1), (a2, s2, t2) = d.conversion(), d.conversion()
        c = Conversation(rng.choice(PARALLEL_CONVERT).format(v1=show(a1["value"]), s1=s1, t1=t1,
                                                              v2=show(a2["value"]), s2=s2, t2=t2))
        r1, r2 = c.call((units.convert_units, a1), (units.convert_units, a2))
        return c.say(f"{show(a1['value'])} {s1} is {show(r1['result'])} {t1}, and {show(a2['value'])} {s2} is "
                     f"{show(r2['result'])} {t2}.")
    if shape == "weekday":
        d1, d2 = d.date(), d.date()
        c = Conversation(rng.choice(PARALLEL_WEEKDAY).format(d1=d1, d2=d2))
        r1, r2 = c.call((units.weekday, {"date": d1}), (units.weekday, {"date": d2}))
        return c.say(f"{d1} is a {r1['weekday']} and {d2} is a {r2['weekday']}.")
    date = d.date()
    args, src, dst = d.conversion()
    c = Conversation(rng.choice(PARALLEL_MIXED).format(date=date, value=show(args["value"]), src=src, to=dst))
    w, r = c.call((units.weekday, {"date": date}), (units.convert_units, args))
    return c.say(f"{date} is a {w['weekday']}, and {show(args['value'])} {src} is {show(r['result'])} {dst}.")


def clarify(d: Draw) -> Conversation:
    rng = d.rng
    tool = rng.choice(["convert_units", "convert_units", "weekday", "days_between", "add_days"])
    if tool == "convert_units":
        args, src, _ = d.conversion()
        opening, question, reply = rng.choice(CLARIFY_UNIT)
        opening = opening.format(value=show(args["value"]), src=src)
        held = rng.choice([u for u in HELD_UNITS[units._dimension(args["from_unit"])]
                           if u != args["from_unit"] and u.casefold() not in opening.casefold()])
        c = Conversation(opening).say(question.format(value=show(args["value"]), src=src))
        c.hear(reply.format(held=held))
        (r,) = c.call((units.convert_units, {**args, "to_unit": held}))
        return c.say(f"{show(args['value'])} {src} is {show(r['result'])} {held}.")
    if tool == "weekday":
        date = d.date()
        opening, question, reply = rng.choice(CLARIFY_WEEKDAY)
        c = Conversation(opening).say(question).hear(reply.format(held=date))
        (r,) = c.call((units.weekday, {"date": date}))
        return c.say(f"{date} is a {r['weekday']}.")
    if tool == "days_between":
        start = d.date()
        end = d.later(start, 5, 250)
        opening, question, reply = rng.choice(CLARIFY_BETWEEN)
        c = Conversation(opening.format(start=start)).say(question).hear(reply.format(held=end))
        (r,) = c.call((units.days_between, {"start_date": start, "end_date": end}))
        return c.say(f"There are {r['days']} days from {start} to {end}.")
    date, days = d.date(), rng.choice([14, 21, 28, 30, 45, 60, 90])
    opening, question, reply = rng.choice(CLARIFY_ADD)
    c = Conversation(opening.format(date=date)).say(question).hear(reply.format(held=days))
    (r,) = c.call((units.add_days, {"date": date, "days": days}))
    return c.say(f"{days} days after {date} is {r['result_date']}.")


def no_tool(d: Draw, unused: list[tuple[str, str]]) -> Conversation:
    opening, answer = unused.pop(d.rng.randrange(len(unused)))
    return Conversation(opening).say(answer)


KINDS = {"single": single, "chain": chain, "parallel": parallel, "clarify": clarify}


def conversations(split: str, seen: set[str], small_talk: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """The conversations of one split, kinds interleaved; an opening already in `seen` is drawn again."""
    d = Draw(random.Random(f"{SEED}-{split}"))
    order = [kind for kind, n in SIZES[split].items() for _ in range(n)]
    d.rng.shuffle(order)
    schemas, out = tool_schemas(), []
    for kind in order:
        while True:
            c = no_tool(d, small_talk) if kind == "no_tool" else KINDS[kind](d)
            opening = " ".join(c.messages[1]["content"].split()).casefold()
            if opening not in seen:
                break
        seen.add(opening)
        out.append({"id": f"units-{split}-{len(out) + 1:03d}", "messages": c.messages, "tools": schemas})
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(HERE / "conversations"), help="folder for {train,test_id}.jsonl")
    parser.add_argument("--tools-json", default=str(HERE / "tools.json"), help="file for the tools' schemas")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    Path(args.tools_json).write_text(json.dumps(tool_schemas(), indent=2) + "\n", encoding="utf-8")
    print(f"{args.tools_json}: {len(units.TOOLS)} tools")
    seen: set[str] = set()
    small_talk = list(NO_TOOL)
    for split in SIZES:
        rows = conversations(split, seen, small_talk)
        text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        (out / f"{split}.jsonl").write_text(text, encoding="utf-8")
        print(f"{out / f'{split}.jsonl'}: {len(rows)} conversations")


if __name__ == "__main__":
    main()
