"""examples/python/ run as documented, on small traces: each prints its answer and writes its
PNG (checked for the PNG signature and a plausible size)."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLES = REPO_ROOT / "examples" / "python"

# (script, small-size flags, the PNG it writes, a line its answer prints)
CASES = [
    ("cost_what_if.py", ["--days", "0.1", "--rps", "0.5"], "cost_what_if.png", "total (USD)"),
    ("rate_limit_what_if.py", ["--days", "0.05", "--rps", "0.5", "--sweep", "60,100,130"],
     "rate_limit_what_if.png", "limit/min  refused  users throttled"),
    ("outage_replay.py", ["--rps", "0.3"], "outage_replay.png", "local-mistral down 10:00-12:00"),
    ("experiment_sizing.py", ["--rps", "0.5", "--repeats", "3", "--durations", "1,2"],
     "experiment_sizing.png", "shortest duration with 80% power"),
]


@pytest.mark.parametrize("script, flags, png, answer", CASES, ids=[c[0] for c in CASES])
def test_example_runs(ig, tmp_path, script, flags, png, answer):
    pytest.importorskip("numpy")
    pytest.importorskip("matplotlib")
    env = {**os.environ, "MPLBACKEND": "Agg"}
    package_dir = str(pathlib.Path(ig.__file__).resolve().parents[1])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_dir, env.get("PYTHONPATH")]))
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / script), "--out", str(tmp_path), *flags],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert answer in done.stdout
    assert f"plot: {tmp_path / png}" in done.stdout
    data = (tmp_path / png).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
