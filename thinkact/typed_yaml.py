"""YAML mappings -> frozen, typed dataclasses, and the value rules the params sections share.

`build(cls, raw, prefix)` turns a mapping read from YAML into the dataclass `cls`, field by field from its type
hints: a nested dataclass from a mapping, `dict[str, T]`, `tuple[T, ...]`, `Optional[T]`, `int`, `float` (an int is
taken), `str`, `bool`, `Any`. An unknown key, a value of the wrong type (a bool is not a number; `.nan` and `.inf`
are not numbers) or an empty section raises ConfigError naming the dotted key; each dataclass's `__post_init__`
then applies its own rules. Every params section (thinkact.config's root, and each layer's `params.py`) is read this
way; the rule helpers below (`whole`, `number`, `flag`, `text`) word the messages the same everywhere.

    from thinkact.typed_yaml import build, whole
    section = build(MySection, {"steps": 3}, "mysection")
    whole(1)(0)        # "must be a whole number >= 1, not 0"
"""
from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

from thinkact.errors import ConfigError

Rule = Callable[[Any], "str | None"]  # a value -> what is wrong with it, or None


def shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def number_text(value: Any) -> bool:
    """A string YAML left as text that Python reads as a number ('1e-3')."""
    try:
        return isinstance(value, str) and math.isfinite(float(value))
    except ValueError:
        return False


def yaml_hint(value: Any) -> str:
    """Why a number came out of YAML as a string, and how to write it."""
    if not number_text(value):
        return ""
    if re.fullmatch(r"[+-]?[0-9]+[eE][+-]?[0-9]+", value.strip()):  # YAML 1.1 reads 1e-3 (no dot) as a string
        return f" (YAML reads {value} as text: write it with a dot, e.g. 1.0e-3)"
    return " (it is quoted: write the number without quotes)"


def is_whole(value: Any) -> bool:
    """An int that is not a bool (YAML's `true` is a Python bool, and bool is a subclass of int)."""
    return isinstance(value, int) and not isinstance(value, bool)


def is_number(value: Any) -> bool:
    """A finite int or float that is not a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _not(value: Any, what: str) -> str:
    if isinstance(value, str) and number_text(value):
        return f"must be {what}, not the string {value!r}{yaml_hint(value)}"
    return f"must be {what}, not {shown(value)}"


def whole(low: int, high: int | None = None, *, null: bool = False) -> Rule:
    """A whole number in [low, high] (or None with `null`)."""
    what = f"a whole number >= {low}" + (f" and <= {high}" if high is not None else "") + (" (or null)" if null else "")

    def rule(value: Any) -> str | None:
        if value is None and null:
            return None
        ok = is_whole(value) and value >= low and (high is None or value <= high)
        return None if ok else _not(value, what)
    return rule


def number(low: float | None = None, high: float | None = None, *, open_low: bool = False, open_high: bool = False,
           null: bool = False) -> Rule:
    """A finite number in [low, high]; `open_low` / `open_high` exclude that bound."""
    parts = ([f"{'>' if open_low else '>='} {low:g}"] if low is not None else []) + (
        [f"{'<' if open_high else '<='} {high:g}"] if high is not None else [])
    what = "a finite number" + (" " + " and ".join(parts) if parts else "") + (" (or null)" if null else "")

    def rule(value: Any) -> str | None:
        if value is None and null:
            return None
        if not is_number(value):
            return _not(value, what)
        if low is not None and (value <= low if open_low else value < low):
            return _not(value, what)
        if high is not None and (value >= high if open_high else value > high):
            return _not(value, what)
        return None
    return rule


def flag(*, null: bool = False) -> Rule:
    def rule(value: Any) -> str | None:
        if isinstance(value, bool) or (value is None and null):
            return None
        return f"must be true or false{' (or null)' if null else ''}, not {shown(value)}"
    return rule


def text(choices: tuple[Any, ...] = (), *, null: bool = False) -> Rule:
    """A non-empty string, one of `choices` when given (a non-string choice, such as True, is taken as is)."""
    def rule(value: Any) -> str | None:
        if value is None and null:
            return None
        if choices:
            if value in choices and type(value) in {type(c) for c in choices if c == value}:
                return None
            shown_choices = (str(c).lower() if isinstance(c, bool) else str(c) for c in choices)  # as YAML writes
            return f"{shown(value)} is not one of {', '.join(shown_choices)}"
        if not isinstance(value, str) or not value.strip():
            return f"must be a non-empty string, not {shown(value)}"
        return None
    return rule


def check_rules(section: str, fields: Any, rules: Mapping[str, Rule], what: str) -> None:
    """ConfigError for the first field of the mapping `fields` that breaks its rule (fields without a rule pass)."""
    if not isinstance(fields, Mapping):
        raise ConfigError(section, f"expected a mapping of {what}, got {shown(fields)}")
    for key, value in fields.items():
        if not isinstance(key, str):
            raise ConfigError(f"{section}.{key}", "a field name must be a string")
        problem = rules[key](value) if key in rules else None
        if problem:
            raise ConfigError(f"{section}.{key}", problem)


def no_repeats(key: str, items: tuple[Any, ...]) -> None:
    """ConfigError naming the first item listed twice (`key[i]`)."""
    for i, item in enumerate(items):
        if item in items[:i]:
            raise ConfigError(f"{key}[{i}]", f"{item!r} is listed twice")


def _coerce(value: Any, hint: Any, key: str) -> Any:
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        if value is None:  # `sft:` with nothing under it: an indentation slip more often than a wish for defaults
            raise ConfigError(key, "is empty: give its keys, or leave it out for the defaults")
        return build(hint, value, key)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        return _coerce(value, next(a for a in args if a is not type(None)), key)
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(key, f"expected a mapping, got {shown(value)}")
        _, value_hint = typing.get_args(hint)
        return {k: _coerce(v, value_hint, f"{key}.{k}") for k, v in value.items()}
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(key, f"expected a list, got {shown(value)}")
        item = typing.get_args(hint)[0]
        return tuple(_coerce(v, item, f"{key}[{i}]") for i, v in enumerate(value))
    if hint is Any:
        return value
    if hint is float and is_whole(value):
        return float(value)
    if not isinstance(value, hint) or (hint is int and isinstance(value, bool)):
        hint_text = yaml_hint(value) if hint in (int, float) and isinstance(value, str) else ""
        raise ConfigError(key, f"expected {hint.__name__}, got {shown(value)}{hint_text}")
    if hint is float and not math.isfinite(value):
        raise ConfigError(key, f"must be a finite number, not {value!r}")
    return value


def build(cls: type, raw: Any, prefix: str = "") -> Any:
    """The dataclass `cls` from the mapping `raw` (None: every default); ConfigError names the dotted key."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(prefix or "<root>", f"expected a mapping, got {shown(raw)}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    for key in raw:
        if key not in names:
            where = f"{prefix}.{key}" if prefix else str(key)
            raise ConfigError(where, f"unknown key; known keys here: {', '.join(sorted(names))}")
    kwargs = {k: _coerce(v, hints[k], f"{prefix}.{k}" if prefix else k) for k, v in raw.items()}
    try:
        return cls(**kwargs)
    except ConfigError as e:  # a section's own rule: name the key from the root
        key = e.key if not prefix or e.key.startswith(f"{prefix}.") or e.key == prefix else f"{prefix}.{e.key}"
        raise ConfigError(key, e.problem) from None
