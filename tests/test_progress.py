"""Progress lines for plain logs (elapsed, ETA, one line each) and the one place library noise is silenced."""
from __future__ import annotations

import io
import re
import subprocess
import sys
import warnings

from thinkact.progress import Progress
from thinkact.quiet import quiet


def test_progress_prints_time_based_lines_with_an_eta_and_a_closing_line():
    out = io.StringIO()
    bar = Progress("[evaluate] grpo / test_id", total=4, unit="ex", every=0, stream=out)
    for _ in range(4):
        bar.update(1)
    bar.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 4 and "\r" not in out.getvalue()          # 3 progress lines (not at 4/4) + the closing one
    assert re.fullmatch(r"\[evaluate\] grpo / test_id: 1/4 ex \(25%\), elapsed \d+s eta \d+s", lines[0])
    assert re.fullmatch(r"\[evaluate\] grpo / test_id: 4/4 ex in \d+\.\d s", lines[-1])
    quiet_bar = Progress("x", total=2, every=3600, stream=(silent := io.StringIO()))
    quiet_bar.update(1)
    assert silent.getvalue() == ""                                    # less than `every` seconds: no line yet


def test_quiet_sets_offline_defaults_and_filters_library_deprecations():
    code = ("import warnings, os; from thinkact.quiet import quiet; quiet(); "
            "warnings.warn('`gradient_checkpointing` is deprecated and will be removed in v6.', FutureWarning); "
            "warnings.warn('a warning of ours', FutureWarning); print(os.environ['HF_HUB_DISABLE_PROGRESS_BARS'])")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "1"
    assert "gradient_checkpointing" not in proc.stderr and "a warning of ours" in proc.stderr
    with warnings.catch_warnings():
        quiet()
