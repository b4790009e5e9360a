"""The HTML the pipeline writes opens offline: GX's data docs (rewritten by thinkact.validation.offline_docs) and the
plots page (thinkact.evaluation.plots_page) load no script, stylesheet or image from the network, and still show
what they are for: every expectation and result, and every figure inline."""
from __future__ import annotations

import base64
import dataclasses
import html
import json
import re
from pathlib import Path

import pytest

from tests.fixtures_bad_data import good_dataset
from thinkact.project import PROJECT_ROOT
from thinkact.config import load_params
from thinkact.contract import Example
from thinkact.evaluation import Bootstrap, evaluate_completions, write_evaluation
from thinkact.evaluation.plots import loss_curve_png, reward_curves_png
from thinkact.evaluation.plots_page import PAGE_FILE, REWARD_CURVES_PNG, png_width, write_plots_page
from thinkact.evaluation.report import PLOTS_DIR
from thinkact.io import atomic_write_bytes
from thinkact.validation import DOCS_DIR, validate_to_dir
from thinkact.validation.offline_docs import make_offline, offline_page

pytestmark = pytest.mark.usefixtures("no_tracking")

# every tag that makes a browser fetch something, and its fetching attributes
LOADING_TAG = re.compile(r"<(?:script|link|img|iframe|source|video|audio|embed|object)\b[^>]*>", re.I | re.S)
FETCH_ATTR = re.compile(r"""\b(?:src|href|srcset|data)\s*=\s*["']?\s*((?:https?:)?//[^"'\s>]*)""", re.I)
CSS_FETCH = re.compile(r"""(?:url\(\s*["']?|@import\s+["'])\s*((?:https?:)?//[^"')\s]*)""", re.I)
DATA_PNG = re.compile(r'<img\s[^>]*src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


def external_refs(text: str) -> list[str]:
    """What the page would load from another host: src/href of loading tags, CSS url() and @import."""
    refs = [m for tag in LOADING_TAG.finditer(text) for m in FETCH_ATTR.findall(tag[0])]
    return refs + CSS_FETCH.findall(text)


def test_the_checker_finds_what_gx_loads_from_cdns():
    page = ('<script src="https://code.jquery.com/jquery-3.7.1.min.js"></script><link rel="stylesheet" '
            'href="//cdn.example/x.css"><img\n  class="x"\n  src="https://s3.example/logo.png"/>'
            "<style>a { background: url('https://s3.example/dark.png') }</style>"
            '<a href="https://greatexpectations.io">plain links load nothing</a><img src="static/images/a.png">')
    assert len(external_refs(page)) == 4


# -- GX data docs ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def docs(tmp_path_factory):
    """The data docs of a real validate run on small built-in data (with episodes; too few rows: it fails)."""
    folder = tmp_path_factory.mktemp("offline")
    params = load_params(PROJECT_ROOT / "params.yaml")
    data = dataclasses.replace(params.data, sizes={"train": 120, "test_id": 30, "test_env": 30, "test_task": 30})
    from thinkact.data.writer import write_dataset

    write_dataset(folder / "data", data)
    report = validate_to_dir(folder / "data", params.validate, folder / "validate")
    return folder / "validate" / DOCS_DIR, report


def _pages(root: Path, under: str) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): p.read_text(encoding="utf-8")
            for p in sorted((root / under).rglob("*.html"))}


def test_data_docs_load_nothing_from_the_network(docs):
    root, _ = docs
    pages = _pages(root, ".")
    assert len(pages) >= 5  # index, 2 suites, 2 validation results (examples and episodes)
    for name, text in pages.items():
        assert external_refs(text) == [], name
        scripts = re.findall(r"<script\b[^>]*>(.*?)</script>", text, re.S)
        assert not any("$(" in s or "bootstrapTable" in s for s in scripts), f"{name}: a script needs jQuery"
        assert 'id="thinkact-offline"' in text  # our stylesheet


def test_data_docs_index_lists_every_result_and_suite_without_javascript(docs):
    root, report = docs
    index = (root / "index.html").read_text(encoding="utf-8")
    validations, suites = _pages(root, "validations"), _pages(root, "expectations")
    assert len(validations) == 2 and len(suites) == 2
    for page in [*validations, *suites]:
        assert f'href="{page}"' in index, page
    table = re.search(r'<table id="[^"]*" class="table table-sm"><thead><tr><th>Status</th>.*?</table>', index, re.S)
    assert table and table[0].count("<tr>") == 1 + len(validations)
    assert "Failed" in table[0] and not report.success


def test_data_docs_show_every_expectation_and_result(docs):
    root, report = docs
    suites = "".join(_pages(root, "expectations").values())
    for outcome in report.outcomes:  # each expectation's notes: the check's one sentence
        assert html.escape(outcome.text, quote=False) in suites, outcome.check
    validations = _pages(root, "validations").values()

    def stat(name: str) -> int:
        return sum(int(re.search(rf"{name}</div></td><td[^>]*><div[^>]*>(\d+)<", text)[1]) for text in validations)

    assert stat("Evaluated Expectations") == len(report.outcomes)
    assert stat("Unsuccessful Expectations") == len(report.failed) > 0
    # each failed expectation's row is marked failed (a status icon our stylesheet draws as a cross)
    assert sum(len(re.findall(r'<i class="fas fa-times text-danger"\s*></i>', t)) for t in validations) == \
        len(report.failed)


def test_rewriting_again_changes_nothing(docs, tmp_path):
    import shutil

    root = shutil.copytree(docs[0], tmp_path / "again")
    before = {p: p.read_bytes() for p in root.rglob("*.html")}
    make_offline(root)
    assert {p: p.read_bytes() for p in root.rglob("*.html")} == before


def test_unreadable_table_data_becomes_a_list_of_every_page(tmp_path):
    (tmp_path / "validations" / "s").mkdir(parents=True)
    (tmp_path / "validations" / "s" / "run.html").write_text("<html></html>")
    page = ('<html><head></head><body><table id="t1" data-toggle="table"></table><script>'
            "$('#t1').bootstrapTable(Object.assign({columns: [{'field': 'a'}], data: [not python], "
            "toolbar: '#x'}, {}));"
            "</script></body></html>")
    out = offline_page(page, tmp_path, tmp_path / "index.html")
    assert '<a href="validations/s/run.html">' in out and "<script" not in out and "<table" not in out


# -- the plots page ----------------------------------------------------------------------------------------
def _history(n: int) -> list[dict[str, float]]:
    return [{"step": i + 1, "reward": 1 + i / n, "format": 0.9, "tool_call": i / n} for i in range(n)]


@pytest.fixture(scope="module")
def plots(tmp_path_factory):
    """plots/ of a real (small) evaluation, GRPO's reward curves beside it, then the page with an SFT loss."""
    examples = {s: [Example.from_dict(e) for e in exs[:6]] for s, exs in good_dataset().items() if s != "train"}
    from thinkact.chat_format.template import render_target

    completions = {"base": {s: ["<think>\n\n</think>\n\nSorry." for _ in exs] for s, exs in examples.items()},
                   "sft": {s: [render_target(e.target.to_dict(), "r") for e in exs] for s, exs in examples.items()}}
    ev = evaluate_completions(examples, completions, bootstrap=Bootstrap(n_resamples=100))
    out = tmp_path_factory.mktemp("evaluate")
    write_evaluation(ev, out)
    atomic_write_bytes(out / PLOTS_DIR / REWARD_CURVES_PNG, reward_curves_png(_history(30)))
    loss = [{"step": 10 * (i + 1), "loss": 4 / (i + 1), "mean_token_accuracy": 0.5 + i / 20} for i in range(8)]
    page = write_plots_page(out / PLOTS_DIR, loss_history=loss, title="thinkact evaluation")
    return out / PLOTS_DIR, page, loss


def test_plots_page_has_every_figure_inline(plots):
    folder, page, loss = plots
    text = page.read_text(encoding="utf-8")
    assert page == folder / PAGE_FILE
    assert external_refs(text) == [] and "<script" not in text
    images = [base64.b64decode(b) for b in DATA_PNG.findall(text)]
    files = [folder / name for name in ("metrics.png", "deltas.png", REWARD_CURVES_PNG)]
    assert images[:3] == [f.read_bytes() for f in files]  # the evaluation's figures, then GRPO's
    assert len(images) == 4 and images[3] == loss_curve_png(loss)  # then SFT's loss
    assert [m for m in re.findall(r'<figure id="([^"]+)"', text)] == ["metrics", "deltas", "grpo_rewards", "sft_loss"]
    for png in images:  # as wide as the page at most (never clipped), never wider than drawn
        assert f'style="max-width:{png_width(png)}px"' in text
    assert "img { display: block; width: 100%; height: auto; }" in text


def test_plots_page_is_the_same_bytes_for_the_same_figures(plots):
    folder, page, loss = plots
    before = page.read_bytes()
    write_plots_page(folder, loss_history=loss, title="thinkact evaluation")
    assert page.read_bytes() == before


def test_plots_page_without_figures_says_so(tmp_path):
    page = write_plots_page(tmp_path / "plots")
    assert "No figures were made" in page.read_text(encoding="utf-8")
    assert loss_curve_png([]) is None and loss_curve_png([{"step": 1, "epoch": 0.1}]) is None
    assert png_width(b"not a png") is None


def test_reward_curve_file_name_is_the_runners():
    from thinkact.evaluation import runner

    assert runner.REWARD_CURVES_PNG == REWARD_CURVES_PNG


def test_sft_loss_json_of_the_stage_draws(tmp_path):
    """loss.json as the sft stage writes it (TRL's log entries; a final summary entry has no loss)."""
    loss = [{"step": 1, "loss": 3.2, "learning_rate": 1e-3, "epoch": 0.1},
            {"step": 2, "loss": 2.1, "learning_rate": 1e-3, "epoch": 0.2}, {"step": 2, "train_runtime": 4.0}]
    page = write_plots_page(tmp_path, loss_history=json.loads(json.dumps(loss)))
    (png,) = DATA_PNG.findall(page.read_text(encoding="utf-8"))
    assert base64.b64decode(png)[:8] == b"\x89PNG\r\n\x1a\n"
