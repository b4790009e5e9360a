"""One HTML page of every figure that opens offline: `plots/index.html`, each PNG inline as a data: URI.

`dvc plots show` draws its Vega plots with scripts from a CDN (blank offline) and shows the PNGs clipped; this page
needs nothing but the file itself, so it opens from disk, from a copied folder or as an MLflow artifact. It holds
the evaluation's figures (metrics.png, deltas.png), GRPO's reward curves (grpo_rewards.png) and any other PNG in the
folder, then SFT's loss curve, drawn from the sft stage's loss.json. Each image is at most the page's width, never
clipped. The page has no time stamp: the same figures give the same bytes. Written atomically (thinkact/io.py).

    from thinkact.evaluation.plots_page import write_plots_page
    write_plots_page("outputs/evaluate/plots", loss_history=json.loads(Path("outputs/sft/loss.json").read_text()))
"""
from __future__ import annotations

import base64
import html
import os
import struct
from pathlib import Path

from thinkact.evaluation.plots import loss_curve_png
from thinkact.evaluation.report import DELTAS_PNG, METRICS_PNG
from thinkact.io import atomic_write_text

PAGE_FILE = "index.html"
REWARD_CURVES_PNG = "grpo_rewards.png"  # written by thinkact.evaluation.runner (same name; a test holds them equal)
# file -> (title, caption), in the page's order; any other PNG follows under its file name
KNOWN = {
    METRICS_PNG: ("Evaluation metrics", "Every metric by model and split: the mean per example with its bootstrap "
                                        "confidence interval."),
    DELTAS_PNG: ("Paired differences", "Each metric's paired difference between models (e.g. grpo - sft) per "
                                       "split, with its bootstrap confidence interval."),
    REWARD_CURVES_PNG: ("GRPO rewards", "GRPO's reward per step: the weighted total and each reward's mean (thin: "
                                        "per step, thick: moving average)."),
}
LOSS_TITLE = ("SFT loss", "SFT's training loss per logged step (and the mean token accuracy when logged).")

STYLE = """
:root { color-scheme: light; }
body { margin: 0 auto; max-width: 1800px; padding: 16px 24px 40px; color: #212529; background: #fff;
       font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
h1 { font-size: 1.4rem; margin: .3rem 0 .6rem; } h2 { font-size: 1.15rem; margin: 0 0 .3rem; }
nav { margin-bottom: 1rem; } nav a { margin-right: 1.2rem; color: #0b5cad; text-decoration: none; }
figure { margin: 0 0 1.6rem; padding: 12px 0; border-top: 1px solid #dee2e6; }
figcaption { color: #555; margin-bottom: .5rem; }
img { display: block; width: 100%; height: auto; }
.none { color: #6c757d; }
"""


def png_width(png: bytes) -> int | None:
    """A PNG's width in pixels, from its IHDR chunk; None when the bytes are not a PNG."""
    if len(png) < 24 or png[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    return struct.unpack(">I", png[16:20])[0]


def figures_in(plots_dir: str | os.PathLike, loss_history: list[dict[str, float]] | None = None
               ) -> list[tuple[str, str, str, bytes]]:
    """(anchor, title, caption, PNG bytes) for every PNG in `plots_dir` (the known ones first, in KNOWN's order)
    and the SFT loss curve drawn from `loss_history` (when it has a loss)."""
    folder = Path(plots_dir)
    files = sorted(folder.glob("*.png")) if folder.is_dir() else []
    order = {name: i for i, name in enumerate(KNOWN)}
    files.sort(key=lambda p: (order.get(p.name, len(order)), p.name))
    out = []
    for path in files:
        title, caption = KNOWN.get(path.name, (path.stem.replace("_", " "), path.name))
        out.append((path.stem, title, caption, path.read_bytes()))
    loss = loss_curve_png(loss_history or [])
    if loss is not None:
        out.append(("sft_loss", *LOSS_TITLE, loss))
    return out


def render_plots_page(figures: list[tuple[str, str, str, bytes]], title: str = "thinkact plots") -> str:
    """The page's HTML: a heading, links to each figure, then each figure as an inline PNG with its caption."""
    nav = " ".join(f'<a href="#{html.escape(a, quote=True)}">{html.escape(t)}</a>' for a, t, _, _ in figures)
    body = []
    for anchor, fig_title, caption, png in figures:
        width = png_width(png)
        limit = f' style="max-width:{width}px"' if width else ""
        data = base64.b64encode(png).decode("ascii")
        body.append(f'<figure id="{html.escape(anchor, quote=True)}"><h2>{html.escape(fig_title)}</h2>'
                    f"<figcaption>{html.escape(caption)}</figcaption>"
                    f'<img src="data:image/png;base64,{data}" alt="{html.escape(fig_title, quote=True)}"{limit}>'
                    f"</figure>")
    if not figures:
        body.append('<p class="none">No figures were made in this run.</p>')
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
            f"<h1>{html.escape(title)}</h1>\n<nav>{nav}</nav>\n" + "\n".join(body) + "\n</body>\n</html>\n")


def write_plots_page(plots_dir: str | os.PathLike, *, loss_history: list[dict[str, float]] | None = None,
                     title: str = "thinkact plots") -> Path:
    """Write `plots_dir`/index.html (every PNG of `plots_dir` and the SFT loss curve of `loss_history`, inline);
    returns its path. Call it after the folder's PNGs are written."""
    path = Path(plots_dir) / PAGE_FILE
    atomic_write_text(path, render_plots_page(figures_in(plots_dir, loss_history), title))
    return path
