"""Result columns: numpy arrays when numpy is importable, lists otherwise (also in a process where
numpy cannot be imported at all), with the same values either way."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

from conftest import SMALL_CONFIG

TRACE = [
    {"timestamp": 0, "user": "alice", "input_tokens": 1000, "output_tokens": 500},
    {"timestamp": 0.01, "user": "bob", "model": "exp-1", "input_tokens": 10},
    {"timestamp": 0.02, "input_tokens": 10, "outcome": "connect_error"},
]


# With numpy, columns are arrays of the documented dtypes; strings are object arrays.
def test_numpy_columns(ig, small_config):
    np = pytest.importorskip("numpy")
    result = ig.Simulator(small_config).run(TRACE)
    cols = result.columns
    assert list(cols) == list(ig.COLUMNS)
    assert cols["status"].dtype == np.int32 and cols["status"].tolist() == [200, 200, 502]
    assert cols["cost"].dtype == np.float64
    assert cols["cost_pico"].dtype == np.int64
    assert cols["throttled"].dtype == np.bool_ and cols["fallback"].tolist() == [False, False, True]
    assert cols["route"].dtype == object
    assert cols["route"].tolist() == ["default/chat", "default/lab", "default/chat"]
    assert cols["backend"].tolist()[2] is None
    assert cols["user"].tolist() == ["alice", "bob", None]
    assert cols["arm"].tolist()[1] in ("control", "treatment")
    assert cols["experiment"].tolist() == [None, "price-test", None]
    # Vectorized arithmetic works directly on the columns.
    assert float(cols["cost"][cols["backend"] == "default/cheap"].sum()) == pytest.approx(
        result.summary["cost"]["backend"]["default/cheap"]["cost"])


# numpy=False gives plain lists with the same values.
def test_list_columns_equal_numpy(ig, small_config):
    np = pytest.importorskip("numpy")
    sim = ig.Simulator(small_config)
    as_lists = sim.run(TRACE, numpy=False).columns
    as_arrays = sim.run(TRACE, numpy=True).columns
    for name in ig.COLUMNS:
        assert isinstance(as_lists[name], list)
        assert isinstance(as_arrays[name], np.ndarray)
        assert as_arrays[name].tolist() == as_lists[name], name


# codes() gives integer codes and the names they index.
def test_codes(ig, small_config):
    result = ig.Simulator(small_config).run(TRACE, numpy=False)
    codes, names = result.codes("backend")
    assert [names[c] if c >= 0 else None for c in codes] == result["backend"]
    codes, names = result.codes("user")
    assert [names[c] for c in codes] == ["alice", "bob", ""]
    with pytest.raises(KeyError):
        result.codes("status")


# In a process where numpy cannot be imported, everything works and columns are lists.
def test_without_numpy_process(tmp_path):
    script = textwrap.dedent(
        f"""
        import sys
        sys.modules["numpy"] = None  # import numpy now raises ImportError
        import inferencegw as ig
        config = ig.load_config({SMALL_CONFIG!r})
        trace = ig.Trace.from_columns({{"timestamp": [0.0, 1.0], "user": ["a", "b"],
                                        "input_tokens": [1000, 10], "output_tokens": [500, 0]}})
        assert isinstance(trace.timestamps, list)
        result = ig.Simulator(config).run(trace)
        cols = result.columns
        assert all(isinstance(v, list) for v in cols.values()), cols
        assert cols["status"] == [200, 200]
        assert cols["backend"] == ["default/cheap", "default/cheap"]
        assert abs(cols["cost"][0] - 0.002) < 1e-12
        try:
            ig.Simulator(config).run(trace, numpy=True).columns
        except ImportError as e:
            assert "numpy" in str(e)
        else:
            raise AssertionError("numpy=True without numpy must raise ImportError")
        print("ok")
        """
    )
    env = dict(os.environ)
    proc = subprocess.run([sys.executable, "-W", "error", "-c", script], capture_output=True,
                          text=True, env=env, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


# Columns are read-only views: writing to them fails instead of corrupting the result.
def test_columns_read_only(ig, small_config):
    np = pytest.importorskip("numpy")
    result = ig.Simulator(small_config).run(TRACE)
    with pytest.raises(ValueError):
        result.columns["status"][0] = 1
    assert np.asarray(result.columns["status"]).flags.writeable is False
