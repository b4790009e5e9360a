"""The worked example's tools: a unit converter and a calendar that compute real answers (docs/your-tools.md).

Each tool is a typed Python function with a Google-style docstring; thinkact reads its JSON Schema from the
signature and the docstring (transformers.utils.get_json_schema), so the functions are the only declaration:

    episodes:
      tools: {source: python, module: examples/units/tools.py}        # these functions, in-process
      tools: {source: mcp, command: "python examples/units/mcp_server.py"}   # the same functions over MCP

A tool returns a JSON object (a dict); bad input raises ValueError with a message saying what is wrong, which the
episode environment hands back to the model as an error result. Conversions use exact factors (the international
yard and pound, the US liquid gallon) in rational arithmetic, rounded once, to 4 decimal places.
"""
from __future__ import annotations

import datetime as dt
import math
from fractions import Fraction
from typing import Any

# Each unit's size in its dimension's base unit (metre, kilogram, litre): exact by definition.
_INCH = Fraction(254, 10000)                # 0.0254 m
_POUND = Fraction(45359237, 100000000)      # 0.45359237 kg
_GALLON = Fraction(3785411784, 1000000000)  # US liquid gallon, 3.785411784 l
FACTORS: dict[str, dict[str, Fraction]] = {
    "length": {"mm": Fraction(1, 1000), "cm": Fraction(1, 100), "m": Fraction(1), "km": Fraction(1000),
               "in": _INCH, "ft": 12 * _INCH, "yd": 36 * _INCH, "mi": 63360 * _INCH},
    "mass": {"mg": Fraction(1, 1000000), "g": Fraction(1, 1000), "kg": Fraction(1), "oz": _POUND / 16, "lb": _POUND},
    "volume": {"ml": Fraction(1, 1000), "l": Fraction(1), "fl_oz": _GALLON / 128, "cup": _GALLON / 16,
               "pt": _GALLON / 8, "qt": _GALLON / 4, "gal": _GALLON},
}
TEMPERATURES = ("celsius", "fahrenheit", "kelvin")
UNITS = [u for units in FACTORS.values() for u in units] + list(TEMPERATURES)
DIGITS = 4  # decimal places of a converted value
_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _dimension(unit: str) -> str:
    if unit in TEMPERATURES:
        return "temperature"
    for dimension, units in FACTORS.items():
        if unit in units:
            return dimension
    raise ValueError(f"unknown unit {unit!r}; known units: {', '.join(UNITS)}")


def _to_kelvin(value: Fraction, unit: str) -> Fraction:
    if unit == "celsius":
        return value + Fraction(27315, 100)
    if unit == "fahrenheit":
        return (value - 32) * Fraction(5, 9) + Fraction(27315, 100)
    return value


def _from_kelvin(value: Fraction, unit: str) -> Fraction:
    if unit == "celsius":
        return value - Fraction(27315, 100)
    if unit == "fahrenheit":
        return (value - Fraction(27315, 100)) * Fraction(9, 5) + 32
    return value


def _number(value: Fraction) -> int | float:
    """A rounded value as JSON writes it: an int when it is whole (5, not 5.0), else a float."""
    rounded = round(value, DIGITS)
    return int(rounded) if rounded.denominator == 1 else float(rounded)


def _date(text: str, name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a date written YYYY-MM-DD, e.g. 2026-03-14, not {text!r}") from None


def convert_units(value: float, from_unit: str, to_unit: str) -> dict[str, Any]:
    """Convert a quantity from one unit to another of the same kind (length, mass, volume or temperature).

    Args:
        value: The quantity to convert, in from_unit.
        from_unit: The unit the value is in (choices: ["mm", "cm", "m", "km", "in", "ft", "yd", "mi", "mg", "g", "kg", "oz", "lb", "ml", "l", "fl_oz", "cup", "pt", "qt", "gal", "celsius", "fahrenheit", "kelvin"])
        to_unit: The unit to convert to, of the same kind as from_unit (choices: ["mm", "cm", "m", "km", "in", "ft", "yd", "mi", "mg", "g", "kg", "oz", "lb", "ml", "l", "fl_oz", "cup", "pt", "qt", "gal", "celsius", "fahrenheit", "kelvin"])

    Returns:
        The value and its unit, and the converted value (rounded to 4 decimal places) with its unit.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"value must be a finite number, not {value!r}")
    source, target = _dimension(from_unit), _dimension(to_unit)
    if source != target:
        raise ValueError(f"cannot convert {source} ({from_unit}) to {target} ({to_unit})")
    exact = Fraction(repr(float(value)))  # the decimal the caller wrote, not its binary approximation
    if source == "temperature":
        kelvin = _to_kelvin(exact, from_unit)
        if kelvin < 0:
            raise ValueError(f"{value} {from_unit} is below absolute zero")
        result = _from_kelvin(kelvin, to_unit)
    else:
        result = exact * FACTORS[source][from_unit] / FACTORS[source][to_unit]
    return {"value": _number(exact), "from_unit": from_unit, "result": _number(result), "to_unit": to_unit}


def days_between(start_date: str, end_date: str) -> dict[str, Any]:
    """Count the days from one date to another (negative when end_date comes first).

    Args:
        start_date: The first date, written YYYY-MM-DD.
        end_date: The second date, written YYYY-MM-DD.

    Returns:
        Both dates and the number of days from start_date to end_date.
    """
    start, end = _date(start_date, "start_date"), _date(end_date, "end_date")
    return {"start_date": start.isoformat(), "end_date": end.isoformat(), "days": (end - start).days}


def add_days(date: str, days: int) -> dict[str, Any]:
    """Find the date a number of days after (or, when negative, before) a date.

    Args:
        date: The date to count from, written YYYY-MM-DD.
        days: How many days to add; negative to go back.

    Returns:
        The starting date, the days added and the resulting date (YYYY-MM-DD).
    """
    if isinstance(days, bool) or not isinstance(days, int):
        raise ValueError(f"days must be a whole number, not {days!r}")
    start = _date(date, "date")
    try:
        result = start + dt.timedelta(days=days)
    except OverflowError:
        raise ValueError(f"{days} days from {date} is outside the calendar (years 1 to 9999)") from None
    return {"date": start.isoformat(), "days": days, "result_date": result.isoformat()}


def weekday(date: str) -> dict[str, Any]:
    """Tell which day of the week a date falls on.

    Args:
        date: The date, written YYYY-MM-DD.

    Returns:
        The date and its day of the week (Monday to Sunday).
    """
    day = _date(date, "date")
    return {"date": day.isoformat(), "weekday": _WEEKDAYS[day.weekday()]}


TOOLS = [convert_units, days_between, add_days, weekday]
