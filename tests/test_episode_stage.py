"""Agent episodes in the evaluate stage and in `thinkact evaluate --episodes` (issue #13 part 5), on the quick
profile with a few short episodes: metrics.json's `episodes` key, the report section, the transcripts, run.json and
the MLflow metrics; the same bytes on a second run; a bad episode file fails before anything is overwritten."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import make_project
from thinkact.env.spec import EPISODES_DIR
from thinkact.errors import DataError, ThinkactError

# Small everywhere: 4 episodes of 2 splits, turns of 16 tokens, 2 samples for pass^k; per-turn on 4 test_id examples.
EPISODE_QUICK = {
    "data": {"episode_sizes": {"train": 8, "test_id": 8, "test_env": 8, "test_task": 8}},
    "episodes": {"max_new_tokens": 16, "max_turns": 2, "max_tool_calls": 2},
    "evaluate": {"splits": ["test_id"], "max_examples": 4,
                 "episodes": {"splits": ["test_id", "test_env"], "max_examples": 4, "k": 2, "temperature": 1.0}},
}
SPLITS = ["test_id", "test_env"]


@pytest.fixture
def episode_project(tmp_path, monkeypatch):
    return make_project(tmp_path, monkeypatch, EPISODE_QUICK, models=("sft", "grpo"))


def _outputs(out: Path, timed: bool = False) -> dict[str, bytes]:
    """The files that must not change between identical runs; `timed`: also those holding timings (report.md's
    episodes/s column, run.json)."""
    files = [out / "metrics.json", *sorted((out / "predictions").rglob("*.jsonl"))]
    files += [out / "report.md", out / "run.json"] if timed else []
    return {str(f.relative_to(out)): f.read_bytes() for f in files}


@pytest.mark.slow
def test_stage_writes_and_logs_episodes_the_same_twice_and_keeps_them_on_a_bad_file(episode_project):
    from mlflow.tracking import MlflowClient

    from tasks.evaluate import run
    from thinkact.tracking import tracking_uri

    params = episode_project
    headline = run(params)
    out = params.paths.stage_dir("evaluate")
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["grpo"]["test_id"]["format_n"] == 4  # the per-turn evaluation is still there
    episodes = metrics["episodes"]
    for model in ("base", "sft", "grpo"):
        for split in SPLITS:
            row = episodes[model][split]
            for name in ("episode_success", "pass_k", "sampled_success", "calls_per_episode"):
                assert name in row and f"{name}_ci" in row and f"{name}_n" in row
            assert row["episode_success_n"] == 4 and "seconds" not in row  # timings go to run.json only
            kinds = episodes["by_kind"][model][split]  # issue #23: success per kind, the kinds summing to the split
            assert sum(v["episode_success_n"] for k, v in kinds.items() if k != "tool_needing") == 4
    assert set(episodes["deltas"]) == {"sft-base", "grpo-sft"} and episodes["settings"]["k"] == 2
    assert episodes["settings"]["max_new_tokens"] == 16 and episodes["settings"]["batch_size"] == 8
    # sft and grpo are the same weights, played with the same seeds: every episode delta is 0
    assert all(v == 0 for k, v in episodes["deltas"]["grpo-sft"]["test_env"].items()
               if not k.endswith(("_ci", "_n")) and v is not None)

    report = (out / "report.md").read_text()
    assert "## Summary" in report and "## Agent episodes" in report and "### test_env (4 episodes)" in report
    assert report.index("## Summary") < report.index("## Agent episodes")
    for model in ("base", "sft", "grpo"):
        for split in SPLITS:
            rows = [json.loads(line) for line in
                    (out / "predictions" / "episodes" / model / f"{split}.jsonl").read_text().splitlines()]
            assert len(rows) == 4 and {"id", "messages", "success", "scores", "samples_success"} <= set(rows[0])
    assert (out / "predictions" / "grpo" / "test_id.jsonl").is_file()  # per-turn predictions kept beside them
    info = json.loads((out / "run.json").read_text())
    assert info["episodes"]["splits"] == dict.fromkeys(SPLITS, 4)
    assert set(info["episodes"]["episodes_md5"]) == set(SPLITS)
    assert info["episodes"]["throughput"]["grpo"]["test_env"]["greedy_episodes_per_second"] > 0
    assert set(info["episodes"]["seconds"]) == {"base", "sft", "grpo"}
    assert {f"episodes/grpo/{s}/episode_success" for s in SPLITS} <= set(headline)

    client = MlflowClient(tracking_uri())
    (mlrun,) = client.search_runs([client.get_experiment_by_name("thinkact").experiment_id],
                                  "attributes.run_name = 'evaluate'")
    logged = mlrun.data.metrics
    assert logged["episodes/grpo/test_id/episode_success"] == episodes["grpo"]["test_id"]["episode_success"]
    assert "episodes/delta/grpo-sft/test_env/pass_k" in logged and "episodes/sft/test_id/seconds" in logged
    assert "grpo/test_id/tool_call_exact" in logged
    kind = next(iter(episodes["by_kind"]["grpo"]["test_env"]))
    assert logged[f"episodes/by_kind/grpo/test_env/{kind}/episode_success"] == pytest.approx(
        episodes["by_kind"]["grpo"]["test_env"][kind]["episode_success"], abs=1e-6)
    assert f"episodes/by_kind/delta/grpo-sft/test_env/{kind}/episode_success" in logged
    assert mlrun.data.tags["thinkact.episodes_md5.test_env"] == info["episodes"]["episodes_md5"]["test_env"]
    transcripts = {f.path for f in client.list_artifacts(mlrun.info.run_id, "predictions/episodes/grpo")}
    assert transcripts == {f"predictions/episodes/grpo/{s}.jsonl" for s in SPLITS}

    first = _outputs(out)
    run(params)
    assert _outputs(out) == first  # greedy and seeded sampling: the same metrics and transcripts
    before = _outputs(out, timed=True)

    bad = Path(params.paths.data) / EPISODES_DIR / "test_env.jsonl"
    lines = bad.read_text().splitlines()
    bad.write_text("\n".join([lines[0], "{not json", *lines[2:]]) + "\n")
    with pytest.raises(DataError, match=r"test_env.jsonl:2: invalid JSON"):
        run(params)
    assert _outputs(out, timed=True) == before


@pytest.mark.slow
def test_cli_plays_episode_files_and_splits_with_any_model(episode_project, tmp_path):
    from typer.testing import CliRunner

    from thinkact.cli import app

    folder = episode_project.paths.stage_dir("sft") / "model"
    mine = tmp_path / "mine.jsonl"
    source = Path(episode_project.paths.data) / EPISODES_DIR / "test_task.jsonl"
    mine.write_text("".join(source.read_text().splitlines(keepends=True)[:2]))
    out = tmp_path / "cli-episodes"
    result = CliRunner().invoke(app, ["evaluate", "--episodes", "--model", f"tiny={folder}", "--data", str(mine),
                                      "--episode-splits", "test_id", "--k", "0", "--max-examples", "3",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    episodes = json.loads((out / "metrics.json").read_text())["episodes"]
    assert set(episodes) == {"tiny", "deltas", "by_kind", "settings"} and set(episodes["tiny"]) == {"mine", "test_id"}
    assert episodes["tiny"]["mine"]["episode_success_n"] == 2 and episodes["tiny"]["test_id"]["episode_success_n"] == 3
    assert "pass_k" not in episodes["tiny"]["test_id"] and episodes["settings"]["k"] == 0
    assert (out / "predictions" / "episodes" / "tiny" / "mine.jsonl").is_file()
    assert "## Agent episodes" in (out / "report.md").read_text()
    assert "test_id success" in result.output and "Full report" in result.output


def test_cli_episode_options_need_episodes_and_bad_files_name_the_line(episode_project, tmp_path):
    from typer.testing import CliRunner

    from thinkact.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["evaluate", "--k", "2", "--out", str(tmp_path / "o")])
    assert isinstance(result.exception, ThinkactError) and "--k: only with --episodes" in str(result.exception)
    result = runner.invoke(app, ["evaluate", "--episodes", "--bfcl", "simple_python", "--out", str(tmp_path / "o")])
    assert isinstance(result.exception, ThinkactError) and "--bfcl" in str(result.exception)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "user": "hi", "tools": [], "gold_calls": []}\n{"id": "y"}\n')
    result = runner.invoke(app, ["evaluate", "--episodes", "--model", "sft", "--data", str(bad)])
    assert isinstance(result.exception, DataError) and str(result.exception).startswith(f"{bad}:2:")
    result = runner.invoke(app, ["evaluate", "--episodes", "--model", "sft", "--episode-splits", "test_nope"])
    assert isinstance(result.exception, ThinkactError) and "--episode-splits names split 'test_nope'" in str(
        result.exception)
    assert not (tmp_path / "o").exists()
