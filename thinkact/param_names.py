"""The keys of params.yaml that name things defined in the layers above config: reward names and options
(thinkact.rewards), evaluation metrics (thinkact.evaluation.metrics), tool domains (thinkact.world.catalog), BFCL
categories (thinkact.importers.bfcl: the installed bfcl-eval's data folder is listed, none of its modules imported).

The one place the params check looks up: it reads their names, so that a typo fails when params.yaml loads, before
any model loads, and not after generation. thinkact.config.load_params runs it last; the modules it reads are
imported inside the function (they import config themselves; ~0.1 s, mostly scipy).

    from thinkact.param_names import check_names
    check_names(load_params())      # raises ConfigError naming the key
"""
from __future__ import annotations

from typing import Any

from thinkact.errors import ConfigError, ThinkactError
from thinkact.param_checks import check_reward_weights


def check_names(params: Any) -> None:  # thinkact.config.Params (config imports this module)
    """Check the held-out domains and distractors against the catalog, the GRPO rewards, weights and reward options
    against the registry, register.primary_metric / thresholds against the evaluation metrics, and
    evaluate.bfcl.categories against the installed bfcl-eval's categories."""
    from thinkact.evaluation.metrics import UNBOUNDED, metric_names
    from thinkact.rewards import EPISODE_NAMES, Reward, names as reward_names, options_of
    from thinkact.world.catalog import DOMAINS, TOOLS

    data = params.data
    for i, domain in enumerate(data.held_out_domains):
        if domain not in DOMAINS:
            raise ConfigError(f"data.held_out_domains[{i}]", f"unknown domain {domain!r}; use {', '.join(DOMAINS)}")
    train_domains = [d for d in DOMAINS if d not in data.held_out_domains]
    if not train_domains:
        raise ConfigError("data.held_out_domains", "holds out every domain: train would have no tools")
    offered = min(sum(t.domain in train_domains and t.domain != d for t in TOOLS) for d in DOMAINS)
    if data.distractors.max > offered:
        raise ConfigError("data.distractors.max", f"{data.distractors.max} distractor tools, but the domains left "
                                                  f"for train offer as few as {offered} beside an example's own")

    known = reward_names()
    grpo = params.grpo
    for name in grpo.rewards:
        if name not in known:
            raise ConfigError("grpo.rewards", f"unknown reward {name!r}; registered: {', '.join(known)}")
        if grpo.mode == "turns" and name in EPISODE_NAMES:
            raise ConfigError("grpo.rewards", f"{name!r} scores whole episodes (grpo.mode: episodes); with "
                                              "grpo.mode: turns it would be None on every completion")
    check_reward_weights("grpo.trainer", grpo.trainer, len(grpo.rewards))
    probe = {"target": ['{"content": "ok"}', '{"tool_calls": [{"name": "f", "arguments": {}}]}'],
             "turn_type": ["answer", "call"]}
    for name, options in grpo.reward_options.items():
        key = f"grpo.reward_options.{name}"
        if name not in known:
            raise ConfigError(key, f"unknown reward; registered: {', '.join(known)}")
        takes = options_of(name)
        for option in options:
            if option not in takes:
                raise ConfigError(f"{key}.{option}", f"unknown option; '{name}' takes: {', '.join(takes) or 'none'}")
        try:  # an option with a bad value (answer: {mode: fuzzy}) fails here, not after generation
            Reward(name, dict(options))(["<think>\nx\n</think>\n\nok", "ok"], **probe)
        except (ValueError, TypeError) as e:
            raise ConfigError(key, str(e).splitlines()[0]) from None

    metrics = metric_names()
    register = params.register
    if register.primary_metric not in metrics:
        raise ConfigError("register.primary_metric", f"unknown metric {register.primary_metric!r}; use one of "
                                                     f"{', '.join(metrics)}")
    for metric, value in register.thresholds.items():
        key = f"register.thresholds.{metric}"
        if metric not in metrics:
            raise ConfigError(key, f"unknown metric; use one of {', '.join(metrics)}")
        if metric not in UNBOUNDED and not 0 <= value <= 1:
            raise ConfigError(key, f"{value:g} is out of reach: the metric is a score in [0, 1]")
    check_bfcl_categories(params.evaluate.bfcl.categories)


def check_bfcl_categories(categories: tuple[str, ...], key: str = "evaluate.bfcl.categories") -> None:
    """Each name a single-turn category the installed bfcl-eval ships (or its alias: simple), each once. Nothing is
    looked up when the list is empty; then the package's data folder is listed (cached), nothing imported."""
    if not categories:
        return
    from thinkact.importers.bfcl import bfcl_categories, canonical_category

    try:
        known = bfcl_categories()
    except ThinkactError as e:  # bfcl-eval not installed
        raise ConfigError(key, str(e)) from None
    seen: dict[str, int] = {}
    for i, name in enumerate(categories):
        category = canonical_category(name)
        if category is None:
            raise ConfigError(f"{key}[{i}]", f"unknown BFCL category {name!r}; known: {', '.join(known)}")
        if category in seen:
            raise ConfigError(f"{key}[{i}]", f"{name!r} is {categories[seen[category]]!r} ({key}[{seen[category]}]) "
                                             "again: both would be the split bfcl_" + category)
        seen[category] = i
