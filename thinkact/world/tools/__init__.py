"""The built-in domains, one module each: `DOMAIN` (its name), `TOOLS` (its ToolDefs, in order) and, when its
tools use argument names the shared vocabulary (thinkact.world.slots.SLOTS) lacks, `SLOTS`.

`BUILTIN` is the catalog order. The data generator draws tools and domains in this order, so the built-in data
set (pinned in data.dvc) depends on it: add a domain at the end, never reorder (docs/how-to-add-a-tool.md).
"""
from __future__ import annotations

from thinkact.world.tools import (account, banking, billing, calendar, insurance, orders, refunds, restaurants,
                                  subscriptions, travel, weather)

BUILTIN = (orders, refunds, account, billing, travel, weather, calendar, banking, subscriptions, restaurants,
           insurance)
