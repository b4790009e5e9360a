"""The tool catalog: every registered tool in order, the domains they belong to, and their simulators.

The built-in tools are declared one domain per module in thinkact/world/tools/ (`BUILTIN` gives the order) and
registered when this module is first imported. How many there are is whatever those modules declare; a domain
is the `domain` of its tools, in the order its first tool was registered.

`register` adds tools (and the slots they need) for good; `with_tools` adds them for one `with` block and then
puts the catalog back as it was (tests, experiments; docs/how-to-add-a-tool.md):

    from thinkact.world.catalog import TOOLS, TOOLS_BY_NAME, DOMAINS, domain_tools, with_tools
    with with_tools(MY_TOOL, slots=[MY_SLOT]):
        ...   # the data generator, the tool environment and simulate() all see MY_TOOL here

`TOOLS` and `DOMAINS` are read-only views that stay current, so a module that imported them once sees later
registrations; `TOOLS_BY_NAME` and `SIMULATORS` (tool name -> its simulator, what simulate() runs) are dicts kept
in step with them.
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from thinkact.world import slots as _slots
from thinkact.world.slots import LABELS, SLOTS, Slot, can_sample
from thinkact.world.tooldef import Simulator, ToolDef
from thinkact.world.tools import BUILTIN

__all__ = ["DOMAINS", "SIMULATORS", "TOOLS", "TOOLS_BY_NAME", "ToolDef", "domain_tools", "register", "with_tools"]


class _View(Sequence):
    """A read-only view of a list that stays current; equal to a tuple or list with the same items."""

    __slots__ = ("_items",)
    __hash__ = None  # type: ignore[assignment]

    def __init__(self, items: list):
        self._items = items

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index):
        return tuple(self._items[index]) if isinstance(index, slice) else self._items[index]

    def __iter__(self) -> Iterator:
        return iter(tuple(self._items))

    def __contains__(self, item: Any) -> bool:
        return item in self._items

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, (tuple, list, _View)) and tuple(self) == tuple(other)

    def __repr__(self) -> str:
        return repr(tuple(self._items))


_tools: list[ToolDef] = []
_domains: list[str] = []
TOOLS: Sequence[ToolDef] = _View(_tools)
DOMAINS: Sequence[str] = _View(_domains)
TOOLS_BY_NAME: dict[str, ToolDef] = {}
SIMULATORS: dict[str, Simulator] = {}


def domain_tools(domain: str) -> list[ToolDef]:
    return [t for t in _tools if t.domain == domain]


def _problems(tools: Sequence[ToolDef], vocabulary: dict[str, Slot]) -> list[str]:
    """What keeps these tools from joining the catalog, with these slots."""
    out, names = [], set(TOOLS_BY_NAME)
    for tool in tools:
        if not isinstance(tool, ToolDef):
            out.append(f"{tool!r} is not a ToolDef")
            continue
        if tool.name in names:
            out.append(f"tool {tool.name!r} is already registered")
        names.add(tool.name)
        if not tool.domain:
            out.append(f"tool {tool.name!r} has no domain")
        for arg, schema in tool.properties.items():
            if not can_sample(arg, schema, vocabulary):
                out.append(f"tool {tool.name!r}: no way to draw a value of {arg!r}; declare a Slot with a sampler")
        anchor = vocabulary.get(tool.anchor)
        if anchor is None or anchor.label is None:
            out.append(f"tool {tool.name!r}: its anchor {tool.anchor!r} needs a Slot with a label")
    return out


def register(*tools: ToolDef, slots: Iterable[Slot] = ()) -> None:
    """Add tools at the end of the catalog, with the slots (thinkact.world.slots.Slot) their arguments need beyond
    the shared vocabulary. Checked first, all or nothing: ValueError lists every problem."""
    slots = tuple(slots)
    vocabulary = dict(SLOTS)
    problems = []
    for slot in slots:
        if vocabulary.get(slot.name, slot) != slot:
            problems.append(f"slot {slot.name!r} is already declared differently")
        vocabulary[slot.name] = slot
    problems += _problems(tools, vocabulary)
    if problems:
        raise ValueError("; ".join(problems))
    _slots.add_slots(slots)
    for tool in tools:
        _tools.append(tool)
        TOOLS_BY_NAME[tool.name] = tool
        SIMULATORS[tool.name] = tool.simulate
        if tool.domain not in _domains:
            _domains.append(tool.domain)


@contextmanager
def with_tools(*tools: ToolDef, slots: Iterable[Slot] = ()) -> Iterator[None]:
    """Register tools (and slots) for the length of a `with` block; afterwards the catalog, the simulators and
    the slot vocabulary are exactly as before, whatever happened inside."""
    saved = [(state, state.copy()) for state in (_tools, _domains, TOOLS_BY_NAME, SIMULATORS, SLOTS, LABELS)]
    try:
        register(*tools, slots=slots)
        yield
    finally:
        for state, copy in saved:
            if isinstance(state, list):
                state[:] = copy
            else:
                state.clear()
                state.update(copy)


def _register_builtin() -> None:
    for module in BUILTIN:
        if stray := [t.name for t in module.TOOLS if t.domain != module.DOMAIN]:
            raise ValueError(f"{module.__name__}: tools {stray} are not in domain {module.DOMAIN!r}")
        register(*module.TOOLS, slots=getattr(module, "SLOTS", ()))


_register_builtin()
