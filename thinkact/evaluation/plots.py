"""Figures of an evaluation: one panel per metric, a bar per model in each split, 95 % CI error bars.

matplotlib with the Agg backend (no display needed); the PNG is rendered in memory and written atomically.

    png = metrics_png(evaluation)            # bytes
    png = deltas_png(evaluation)             # paired deltas with their intervals (None without deltas)
    png = reward_curves_png(history)         # GRPO's rewards per step (the grpo stage's rewards.json)
    png = loss_curve_png(history)            # SFT's training loss per step (the sft stage's loss.json)
"""
from __future__ import annotations

import io
import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from thinkact.evaluation.summary import Evaluation
    from thinkact.evaluation.stats import Estimate

COLUMNS = 5    # panels per row
DPI = 110


def _pyplot():  # matplotlib (~1 s) is imported only when a plot is drawn, with the Agg backend chosen first
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _bars(ax, groups: list[str], series: list[str], estimate, title: str) -> None:
    """Grouped bars: x = `groups` (splits), one bar per series (model) with asymmetric CI error bars."""
    width = 0.8 / max(1, len(series))
    for k, name in enumerate(series):
        xs, ys, lo, hi = [], [], [], []
        for g, group in enumerate(groups):
            e: Estimate = estimate(name, group)
            if e.value is None:
                continue
            xs.append(g + (k - (len(series) - 1) / 2) * width)
            ys.append(e.value)
            lo.append(max(0.0, e.value - e.low) if e.low is not None else 0.0)  # yerr must be >= 0
            hi.append(max(0.0, e.high - e.value) if e.high is not None else 0.0)
        ax.bar(xs, ys, width, yerr=[lo, hi], capsize=2, label=name, color=f"C{k}", ecolor="0.25")
    ax.set_xticks(range(len(groups)), groups, fontsize=7)
    ax.set_title(title, fontsize=8)
    ax.tick_params(axis="y", labelsize=7)
    ax.axhline(0, color="0.5", linewidth=0.5)


def _render(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})  # no version stamp: stable bytes
    _pyplot().close(fig)
    return buf.getvalue()


def _grid(n: int):
    plt = _pyplot()
    rows = max(1, math.ceil(n / COLUMNS))
    cols = min(COLUMNS, max(1, n))
    fig, axes = plt.subplots(rows, cols, figsize=(3.0 * cols, 2.5 * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    return fig, list(axes.flat)


def metrics_png(ev: Evaluation) -> bytes:
    """Every metric by model x split, with the bootstrap intervals as error bars."""
    fig, axes = _grid(len(ev.metrics))
    for ax, metric in zip(axes, ev.metrics):
        _bars(ax, ev.splits, ev.models, lambda m, s, k=metric: ev.summary[m][s][k], metric)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=len(labels), fontsize=8, frameon=False)
    fig.suptitle(f"mean per example, {ev.bootstrap.confidence:.0%} bootstrap CI", y=0.995, fontsize=9, x=0.99,
                 ha="right")
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    return _render(fig)


def deltas_png(ev: Evaluation) -> bytes | None:
    """Every metric's paired deltas (e.g. grpo-sft, sft-base) by split; None when there are no pairs."""
    if not ev.deltas:
        return None
    pairs = list(ev.deltas)
    fig, axes = _grid(len(ev.metrics))
    for ax, metric in zip(axes, ev.metrics):
        _bars(ax, ev.splits, pairs, lambda p, s, k=metric: ev.deltas[p][s][k], f"Δ {metric}")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=len(labels), fontsize=8, frameon=False)
    fig.suptitle(f"paired difference, {ev.bootstrap.confidence:.0%} bootstrap CI", y=0.995, fontsize=9, x=0.99,
                 ha="right")
    fig.tight_layout(rect=(0, 0, 1, 0.95))
    return _render(fig)


def _smooth(values: list[float], window: int) -> list[float]:
    """Trailing moving average (NaNs skipped), so a noisy per-step reward shows its trend."""
    out = []
    for i in range(len(values)):
        part = [v for v in values[max(0, i - window + 1):i + 1] if not math.isnan(v)]
        out.append(sum(part) / len(part) if part else math.nan)
    return out


def reward_curves_png(history: list[dict[str, float]]) -> bytes | None:
    """GRPO's reward per step (the grpo stage's rewards.json), the weighted total and each reward's mean: thin lines
    per step, thick lines their moving average over a tenth of the steps."""
    if not history:
        return None
    plt = _pyplot()
    names = [k for k in history[0] if k not in ("step", "reward")]
    window = max(1, len(history) // 10)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.2), squeeze=False)
    steps = [r["step"] for r in history]
    series = [("total reward (weighted)", axes[0][0], "reward", "C0")]
    series += [(name, axes[0][1], name, f"C{k + 1}") for k, name in enumerate(names)]
    for label, ax, key, color in series:
        values = [float(r.get(key, math.nan)) for r in history]
        ax.plot(steps, values, color=color, alpha=0.25, linewidth=0.8)
        ax.plot(steps, _smooth(values, window), color=color, linewidth=2, label=label)
    axes[0][0].set_title("total reward (weighted)", fontsize=8)
    axes[0][1].set_title("each reward's mean", fontsize=8)
    axes[0][1].legend(fontsize=7, frameon=False, loc="center left", bbox_to_anchor=(1.0, 0.5))
    for ax in axes[0]:
        ax.set_xlabel(f"GRPO step (thick: moving average over {window} steps)", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.tight_layout()
    return _render(fig)


def loss_curve_png(history: list[dict[str, float]]) -> bytes | None:
    """SFT's training loss per logged step (the sft stage's loss.json) and, when logged, the mean token accuracy
    beside it; None when no entry has a loss."""
    points = [r for r in history or [] if r.get("loss") is not None and r.get("step") is not None]
    if not points:
        return None
    plt = _pyplot()
    panels = [("loss", "training loss")]
    if any(r.get("mean_token_accuracy") is not None for r in points):
        panels.append(("mean_token_accuracy", "mean token accuracy"))
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.2), squeeze=False)
    for k, (ax, (key, title)) in enumerate(zip(axes[0], panels)):
        xs = [r["step"] for r in points if r.get(key) is not None]
        ys = [float(r[key]) for r in points if r.get(key) is not None]
        ax.plot(xs, ys, color=f"C{k}", linewidth=1.5, marker="o" if len(xs) <= 40 else None, markersize=3)
        ax.set_title(title, fontsize=8)
        ax.set_xlabel("SFT step", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return _render(fig)
