"""Trace formats: list of dicts, columns, JSONL and CSV give the same trace and the same run;
token estimates; clear errors for bad rows."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from conftest import SMALL_CONFIG

ROWS = [
    {"timestamp": 0.0, "user": "alice", "model": "m", "input_tokens": 1000, "output_tokens": 200},
    {"timestamp": 1.5, "user": "bob", "headers": {"x-user-tier": "premium"},
     "input_tokens": 10, "output_tokens": 20, "max_tokens": 64},
    {"timestamp": 3.0, "input_tokens": 5, "output_tokens": 5, "outcome": {"cheap": "5xx"},
     "latency": {"backup": 2.0}},
]


def run(ig, config, trace, **options):
    return ig.Simulator(config).run(trace, numpy=False, **options).columns


# Records, columns, JSONL and CSV of the same requests replay identically.
def test_formats_agree(ig, small_config, tmp_path):
    expected = run(ig, small_config, ROWS)
    assert expected["backend"] == ["default/cheap", "default/pricey", "default/backup"]
    assert expected["latency"][2] == pytest.approx(0.05 + 2.0)

    columns = {
        "timestamp": [r["timestamp"] for r in ROWS],
        "user": [r.get("user") for r in ROWS],
        "model": [r.get("model") for r in ROWS],
        "headers": [r.get("headers") for r in ROWS],
        "input_tokens": [r["input_tokens"] for r in ROWS],
        "output_tokens": [r["output_tokens"] for r in ROWS],
        "max_tokens": [r.get("max_tokens") for r in ROWS],
        "outcome": [r.get("outcome") for r in ROWS],
        "latency": [r.get("latency") for r in ROWS],
    }
    assert run(ig, small_config, columns) == expected

    jsonl = tmp_path / "trace.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in ROWS) + "\n\n")
    assert run(ig, small_config, jsonl) == expected
    assert run(ig, small_config, ig.read_jsonl(jsonl)) == expected

    csv_path = tmp_path / "trace.csv"
    fields = ["timestamp", "user", "model", "headers", "input_tokens", "output_tokens",
              "max_tokens", "outcome", "latency"]
    lines = [",".join(fields)]
    for r in ROWS:
        cells = []
        for f in fields:
            v = r.get(f)
            if v is None:
                cells.append("")
            elif isinstance(v, dict):
                cells.append('"' + json.dumps(v).replace('"', '""') + '"')
            else:
                cells.append(str(v))
        lines.append(",".join(cells))
    csv_path.write_text("\n".join(lines) + "\n")
    assert run(ig, small_config, str(csv_path)) == expected
    assert run(ig, small_config, ig.read_csv(csv_path)) == expected


# numpy columns (including datetime64 timestamps) give the same trace as lists.
def test_numpy_columns(ig, small_config):
    np = pytest.importorskip("numpy")
    lists = {"timestamp": [0.0, 60.0, 120.0], "user": ["a", "b", "a"],
             "input_tokens": [1, 2, 3], "output_tokens": [4, 5, 6]}
    arrays = {
        "timestamp": np.array(["2024-01-01T00:00:00", "2024-01-01T00:01:00",
                               "2024-01-01T00:02:00"], dtype="datetime64[s]"),
        "user": np.array(["a", "b", "a"]),
        "input_tokens": np.array([1, 2, 3]),
        "output_tokens": np.array([4, 5, 6], dtype=np.int32),
    }
    a = run(ig, small_config, lists)
    b = run(ig, small_config, arrays)
    base = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc).timestamp()
    assert b["timestamp"] == [base, base + 60, base + 120]
    for key in a:
        if key != "timestamp":
            assert a[key] == b[key], key


# Timestamps may be ISO 8601 text or datetimes (naive ones are UTC).
def test_timestamp_forms(ig):
    trace = ig.Trace.from_records([
        {"timestamp": "2024-05-01T12:00:00Z", "input_tokens": 1},
        {"timestamp": dt.datetime(2024, 5, 1, 12, 0, 1), "input_tokens": 1},
        {"timestamp": "1714564802.5", "input_tokens": 1},
    ])
    assert list(trace.timestamps) == [1714564800.0, 1714564801.0, 1714564802.5]


# Missing counts are estimated: input from prompt text (bytes / 4, rounded up, as the proxy),
# output from max_tokens, else default_output_tokens.
def test_token_estimates(ig, small_config):
    rows = [
        {"timestamp": 0, "prompt": "x" * 401, "output_tokens": 1},
        {"timestamp": 1, "input_tokens": 7, "max_tokens": 33},
        {"timestamp": 2, "input_tokens": 7},
    ]
    result = ig.Simulator(small_config).run(rows, numpy=False, default_output_tokens=99)
    assert result["input_tokens"] == [101, 7, 7]
    assert result["output_tokens"] == [1, 33, 99]


# Unknown fields are errors (typos would silently zero a column) unless ignored on purpose.
def test_unknown_fields(ig):
    with pytest.raises(ValueError, match="unknown field.*'input_token'"):
        ig.Trace.from_records([{"timestamp": 0, "input_token": 5}])
    trace = ig.Trace.from_records([{"timestamp": 0, "input_tokens": 5, "request_id": "r1"}],
                                  ignore_unknown=True)
    assert len(trace) == 1
    with pytest.raises(ValueError, match="unknown column"):
        ig.Trace.from_columns({"timestamp": [0], "colour": ["red"]})


# Bad rows are reported with their row number and what is wrong.
@pytest.mark.parametrize(
    "row, error, text",
    [
        ({"input_tokens": 1}, ValueError, "timestamp"),
        ({"timestamp": -1, "input_tokens": 1}, ValueError, "timestamp\\[0\\]"),
        ({"timestamp": float("nan"), "input_tokens": 1}, ValueError, "finite"),
        ({"timestamp": "yesterday", "input_tokens": 1}, ValueError, "ISO 8601"),
        ({"timestamp": [1], "input_tokens": 1}, TypeError, "timestamp"),
        ({"timestamp": 0}, ValueError, "input_tokens missing"),
        ({"timestamp": 0, "input_tokens": -5}, ValueError, "out of range"),
        ({"timestamp": 0, "input_tokens": 1.5}, ValueError, "whole number"),
        ({"timestamp": 0, "input_tokens": "many"}, ValueError, "whole number"),
        ({"timestamp": 0, "input_tokens": True}, TypeError, "bool"),
        ({"timestamp": 0, "input_tokens": 1, "user": True}, TypeError, "user must be text"),
        ({"timestamp": 0, "input_tokens": 1, "user": 1.5}, TypeError, "user\\[0\\] must be str"),
        ({"timestamp": 0, "input_tokens": 1, "headers": "a=b"}, TypeError, "headers"),
        ({"timestamp": 0, "input_tokens": 1, "headers": {"a": None}}, TypeError, "must be str"),
        ({"timestamp": 0, "input_tokens": 1, "outcome": "melted"}, ValueError, "unknown outcome"),
        ({"timestamp": 0, "input_tokens": 1, "outcome": 5}, TypeError, "outcome"),
        ({"timestamp": 0, "input_tokens": 1, "latency": -2}, ValueError, "latency"),
        ({"timestamp": 0, "input_tokens": 1, "latency": "slow"}, ValueError, "latency"),
    ],
)
def test_bad_rows(ig, row, error, text):
    with pytest.raises(error, match=text):
        ig.Trace.from_records([row])


# Bad containers are TypeErrors naming what was expected.
def test_bad_containers(ig, small_config):
    with pytest.raises(TypeError, match="iterable of dicts"):
        ig.Trace.from_records("timestamp")
    with pytest.raises(TypeError, match="row 0"):
        ig.Trace.from_records([5])
    with pytest.raises(ValueError, match="has 1 rows"):
        ig.Trace.from_columns({"timestamp": [0, 1], "input_tokens": [1]})
    with pytest.raises(TypeError, match="sequence"):
        ig.Trace.from_columns({"timestamp": 5})
    with pytest.raises(TypeError, match="a trace is"):
        ig.Simulator(small_config).run(42)
    with pytest.raises(ValueError, match=".jsonl or .csv"):
        ig.Simulator(small_config).run("trace.parquet")
    with pytest.raises(TypeError):
        ig.Trace(None)


# File errors name the file and line.
def test_file_errors(ig, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"timestamp": 0, "input_tokens": 1}\n{not json}\n')
    with pytest.raises(ValueError, match="bad.jsonl:2: invalid JSON"):
        ig.read_jsonl(bad)
    bad.write_text("[1, 2]\n")
    with pytest.raises(ValueError, match="expected a JSON object"):
        ig.read_jsonl(bad)
    csv_path = tmp_path / "bad.csv"
    csv_path.write_text("timestamp,input_tokens,headers\n0,1,{oops\n")
    with pytest.raises(ValueError, match="bad.csv:2: headers: invalid JSON"):
        ig.read_csv(csv_path)
    csv_path.write_text("")
    with pytest.raises(ValueError, match="header row"):
        ig.read_csv(csv_path)
    with pytest.raises(FileNotFoundError):
        ig.read_jsonl(tmp_path / "missing.jsonl")


# Scalar text columns and one headers dict apply to every row.
def test_broadcast_columns(ig, small_config):
    result = ig.Simulator(small_config).run(
        {"timestamp": [0, 1], "input_tokens": [1, 1], "user": "carol",
         "headers": {"x-user-tier": "premium"}},
        numpy=False,
    )
    assert result["user"] == ["carol", "carol"]
    assert result["backend"] == ["default/pricey", "default/pricey"]


# Integer user ids are ids (their decimal text), and one number or text in a column applies to
# every row.
def test_integer_users_and_scalar_columns(ig):
    np = pytest.importorskip("numpy")
    trace = ig.Trace.from_columns({
        "timestamp": np.arange(4, dtype=float), "user": np.array([1, 2, 1, 30]),
        "input_tokens": 100, "output_tokens": np.int64(20), "model": "gpt-4", "latency": 0.25,
    })
    result = ig.Simulator(SMALL_CONFIG).run(trace, numpy=False)
    assert result["user"] == ["1", "2", "1", "30"]
    assert result["input_tokens"] == [100] * 4 and result["output_tokens"] == [20] * 4
    assert result["latency"] == [0.25] * 4
    listed = ig.Trace.from_records([{"timestamp": 0, "user": 7, "input_tokens": 1}])
    assert ig.Simulator(SMALL_CONFIG).run(listed, numpy=False)["user"] == ["7"]
    # Large, negative and unsigned ids, and Python ints next to text in one list.
    ids = ig.Trace.from_columns({"timestamp": np.zeros(4), "input_tokens": 1,
                                 "user": np.array([2**40, -3, 0, 2**22], dtype=np.int64)})
    assert ids._core.users()[1] == ["1099511627776", "-3", "0", "4194304"]
    unsigned = ig.Trace.from_columns({"timestamp": np.zeros(2), "input_tokens": 1,
                                      "user": np.array([5, 5], dtype=np.uint16)})
    assert unsigned._core.users()[1] == ["5"]
    mixed = ig.Trace.from_columns({"timestamp": [0, 1, 2], "input_tokens": 1,
                                   "user": [12, "12", np.int32(4)]})
    assert mixed._core.users()[1] == ["12", "4"]
