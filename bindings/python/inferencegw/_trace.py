"""Request traces: from a list of dicts, a dict of columns, a JSONL file or a CSV file.

Every reader produces the same compact, immutable Trace. Fields (per row, or per column):

  timestamp         required: seconds (int/float), an ISO 8601 string or a datetime
  user              the user id ("" or missing: none)
  headers           dict {name: value} (or JSON object text in CSV)
  model             the request body's model
  path              default /v1/chat/completions
  method            default POST
  input_tokens      prompt tokens; if missing, estimated from `prompt` text as the proxy does
                    (UTF-8 bytes / 4, rounded up)
  output_tokens     completion tokens; if missing: max_tokens, else `default_output_tokens`
  max_tokens        the request's max_tokens (the proxy reserves input + max_tokens from a
                    token limit)
  estimated_tokens  overrides what a token limit reserves at admission
  prompt            prompt text, only used to estimate input_tokens
  latency           seconds a backend takes for this request: a number (any backend) or
                    {backend: seconds}
  outcome           "ok", "connect_error", "timeout", "5xx" (or "500".."599"), "429", or
                    {backend: outcome}; overrides the scenario for this request
"""

from __future__ import annotations

import array
import csv
import datetime as _dt
import json
import math
import os
from typing import Any, Iterable, Mapping, Sequence

from . import _core

FIELDS = (
    "timestamp",
    "user",
    "headers",
    "model",
    "path",
    "method",
    "input_tokens",
    "output_tokens",
    "max_tokens",
    "estimated_tokens",
    "prompt",
    "latency",
    "outcome",
)
_TEXT = ("user", "model", "path", "method")
_INTS = ("input_tokens", "output_tokens", "max_tokens", "estimated_tokens")
DEFAULT_OUTPUT_TOKENS = 256
_MAX_TOKENS = 2**53


def numpy_module():
    """numpy, or None when it is not importable."""
    try:
        import numpy
    except ImportError:
        return None
    return numpy


def to_seconds(value: Any, what: str) -> float:
    """Seconds from a number, a numeric or ISO 8601 string, or a datetime (naive = UTC)."""
    if isinstance(value, bool):
        raise TypeError(f"{what}: expected seconds, an ISO 8601 time or a datetime, got bool")
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, _dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=_dt.timezone.utc)
        return value.timestamp()
    if isinstance(value, str):
        text = value.strip()
        try:
            return float(text)
        except ValueError:
            pass
        try:
            iso = text[:-1] + "+00:00" if text.endswith("Z") else text
            parsed = _dt.datetime.fromisoformat(iso)
        except ValueError:
            raise ValueError(
                f"{what}: {value!r} is neither seconds nor an ISO 8601 time"
            ) from None
        return to_seconds(parsed, what)
    np = numpy_module()
    if np is not None and isinstance(value, np.generic):
        if isinstance(value, np.datetime64):
            return float(value.astype("datetime64[ns]").astype(np.int64)) / 1e9
        return to_seconds(value.item(), what)
    raise TypeError(
        f"{what}: expected seconds, an ISO 8601 time or a datetime, got {type(value).__name__}"
    )


def _nanos(seconds: float, what: str) -> int:
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{what}: must be finite and >= 0, got {seconds}")
    return int(round(seconds * 1e9))


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _token_count(value: Any, what: str) -> int | None:
    if _missing(value):
        return None
    if isinstance(value, str):
        text = value.strip()
        if text == "":
            return None
        try:
            value = int(text)
        except ValueError:
            raise ValueError(f"{what}: {value!r} is not a whole number of tokens") from None
    if isinstance(value, bool):
        raise TypeError(f"{what}: expected a token count, got bool")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(f"{what}: {value} is not a whole number of tokens")
        value = int(value)
    if not isinstance(value, int):
        np = numpy_module()
        if np is not None and isinstance(value, np.integer):
            value = int(value)
        else:
            raise TypeError(f"{what}: expected a token count, got {type(value).__name__}")
    if value < 0 or value >= _MAX_TOKENS:
        raise ValueError(f"{what}: {value} is out of range [0, 2**53)")
    return value


def _prompt_estimate(prompt: Any, what: str) -> int | None:
    if _missing(prompt):
        return None
    if not isinstance(prompt, str):
        raise TypeError(f"{what}: prompt must be str, got {type(prompt).__name__}")
    return -(-len(prompt.encode("utf-8")) // 4)


def _overrides(latency: Any, outcome: Any, row: int) -> list | None:
    """[(backend, outcome, latency_ns)], specific backends before the catch-all ""."""
    per_backend: dict[str, list] = {}

    def entry(backend: str) -> list:
        if not isinstance(backend, str):
            raise TypeError(f"row {row}: backend names must be str")
        return per_backend.setdefault("" if backend == "*" else backend, ["scenario", -1])

    if not _missing(latency):
        if isinstance(latency, Mapping):
            for backend, seconds in latency.items():
                what = f"row {row}: latency"
                entry(backend)[1] = _nanos(to_seconds(seconds, what), what)
        else:
            entry("")[1] = _nanos(to_seconds(latency, f"row {row}: latency"), f"row {row}: latency")
    if not _missing(outcome):
        if isinstance(outcome, Mapping):
            for backend, name in outcome.items():
                if not isinstance(name, str):
                    raise TypeError(f"row {row}: outcome must be str")
                entry(backend)[0] = name
        elif isinstance(outcome, str):
            entry("")[0] = outcome
        else:
            raise TypeError(
                f"row {row}: outcome must be str or a dict, got {type(outcome).__name__}"
            )
    if not per_backend:
        return None
    out = [(b, o, lat) for b, (o, lat) in per_backend.items() if b != ""]
    if "" in per_backend:
        o, lat = per_backend[""]
        out.append(("", o, lat))
    return out


def _is_scalar(value: Any) -> bool:
    """One number or one text: a column value that applies to every row."""
    if isinstance(value, (str, bytes, bool)):
        return isinstance(value, str)
    if isinstance(value, (int, float)):
        return True
    np = numpy_module()
    return np is not None and isinstance(value, np.generic) and not isinstance(value, np.bool_)


class Trace:
    """An immutable request trace, replayed by Simulator.run. Build one with from_records,
    from_columns, read_jsonl or read_csv (or pass any of their inputs to Simulator.run)."""

    __slots__ = ("_core",)

    def __init__(self, core: "_core.Trace"):
        if not isinstance(core, _core.Trace):
            raise TypeError("use Trace.from_records, from_columns, read_jsonl or read_csv")
        self._core = core

    def __len__(self) -> int:
        return len(self._core)

    def __repr__(self) -> str:
        return f"<inferencegw.Trace: {len(self)} requests>"

    @property
    def timestamps(self):
        """Arrival times in seconds (numpy array when numpy is importable, else a list)."""
        column = self._core.timestamps()
        np = numpy_module()
        return np.frombuffer(column, dtype=np.float64) if np is not None else column.tolist()

    # -- builders ------------------------------------------------------------------------------

    @classmethod
    def from_records(
        cls,
        records: Iterable[Mapping[str, Any]],
        *,
        default_output_tokens: int = DEFAULT_OUTPUT_TOKENS,
        ignore_unknown: bool = False,
    ) -> "Trace":
        """A trace from dicts, one per request (see the module docstring for the fields)."""
        if isinstance(records, (str, bytes, Mapping)):
            raise TypeError("records must be an iterable of dicts (one per request)")
        columns: dict[str, list] = {f: [] for f in FIELDS}
        n = 0
        for record in records:
            if not isinstance(record, Mapping):
                raise TypeError(f"row {n}: expected a dict, got {type(record).__name__}")
            if not ignore_unknown:
                unknown = [k for k in record if k not in columns]
                if unknown:
                    raise ValueError(
                        f"row {n}: unknown field(s) {', '.join(map(repr, unknown))} "
                        f"(known: {', '.join(FIELDS)}; pass ignore_unknown=True to skip them)"
                    )
            if record.get("timestamp") is None:
                raise ValueError(f"row {n}: timestamp is required")
            for f in FIELDS:
                columns[f].append(record.get(f))
            n += 1
        if n == 0:
            return cls(_core.Trace.from_columns(0, array.array("d"), *([None] * 10)))
        return cls._build(n, columns, default_output_tokens)

    @classmethod
    def from_columns(
        cls,
        columns: Mapping[str, Any],
        *,
        default_output_tokens: int = DEFAULT_OUTPUT_TOKENS,
        ignore_unknown: bool = False,
    ) -> "Trace":
        """A trace from a dict of equally long columns (lists, tuples or numpy arrays). Text
        columns and `headers` may also be one value for every row."""
        if not isinstance(columns, Mapping):
            raise TypeError("columns must be a dict of column name -> sequence")
        if "timestamp" not in columns:
            raise ValueError("columns must include 'timestamp'")
        if not ignore_unknown:
            unknown = [k for k in columns if k not in FIELDS]
            if unknown:
                raise ValueError(
                    f"unknown column(s) {', '.join(map(repr, unknown))} "
                    f"(known: {', '.join(FIELDS)}; pass ignore_unknown=True to skip them)"
                )
        timestamps = columns["timestamp"]
        if isinstance(timestamps, (str, bytes)) or not hasattr(timestamps, "__len__"):
            raise TypeError("columns['timestamp'] must be a sequence")
        n = len(timestamps)
        normalized: dict[str, Any] = {}
        for f in FIELDS:
            value = columns.get(f)
            if value is None:
                normalized[f] = None
            elif f in _TEXT and isinstance(value, str):
                normalized[f] = value  # one text for every row: stored once
            elif f == "headers" and isinstance(value, Mapping):
                normalized[f] = [value] * n
            elif f in _INTS and _is_scalar(value):
                normalized[f] = _int_fill(value, f, n)
            elif _is_scalar(value) and f not in ("timestamp", "headers"):
                normalized[f] = [value] * n  # one value for every row
            elif isinstance(value, (str, bytes)) or not hasattr(value, "__len__"):
                raise TypeError(f"columns[{f!r}] must be a sequence with one value per row")
            elif len(value) != n:
                raise ValueError(f"columns[{f!r}] has {len(value)} rows, timestamp has {n}")
            else:
                normalized[f] = value
        return cls._build(n, normalized, default_output_tokens)

    @classmethod
    def _build(cls, n: int, columns: Mapping[str, Any], default_output_tokens: int) -> "Trace":
        if _token_count(default_output_tokens, "default_output_tokens") is None:
            raise ValueError("default_output_tokens must be a token count")
        np = numpy_module()
        timestamp = _float_column(columns["timestamp"], n, np)
        text = {}
        for f in _TEXT:
            value = columns[f]
            if value is not None and np is not None and isinstance(value, np.ndarray):
                if f == "user" and value.dtype.kind in "iu" and value.ndim == 1:
                    # Integer user ids go to the extension as int64 (read as decimal text).
                    if value.dtype.kind == "u" and value.size and value.max() >= 2**63:
                        raise ValueError("user ids must be below 2**63")
                    value = np.ascontiguousarray(value, dtype=np.int64)
                else:
                    value = value.tolist()
            text[f] = value
        ints = {f: _int_column(columns[f], f, n, np) for f in _INTS}
        # Estimates for missing counts.
        if ints["input_tokens"] is None or _has_missing(ints["input_tokens"]):
            prompts = columns["prompt"]
            ints["input_tokens"] = _fill(
                ints["input_tokens"], n, np,
                lambda i: _prompt_estimate(prompts[i] if prompts is not None else None, f"row {i}"),
                "input_tokens missing and no prompt text to estimate it from",
            )
        if ints["output_tokens"] is None or _has_missing(ints["output_tokens"]):
            max_tokens = ints["max_tokens"]

            def output_estimate(i: int) -> int:
                if max_tokens is not None:
                    m = _value_at(max_tokens, i)
                    if m is not None:
                        return m
                return default_output_tokens

            ints["output_tokens"] = _fill(ints["output_tokens"], n, np, output_estimate, "")
        buffers = {f: _int_buffer(v, np) for f, v in ints.items()}
        headers = columns["headers"]
        if headers is not None and np is not None and isinstance(headers, np.ndarray):
            headers = headers.tolist()
        overrides = None
        if columns["latency"] is not None or columns["outcome"] is not None:
            latency, outcome = columns["latency"], columns["outcome"]
            overrides = [
                _overrides(
                    _item(latency, i, np) if latency is not None else None,
                    _item(outcome, i, np) if outcome is not None else None,
                    i,
                )
                for i in range(n)
            ]
        core = _core.Trace.from_columns(
            n,
            timestamp,
            text["method"],
            text["path"],
            text["model"],
            text["user"],
            headers,
            buffers["input_tokens"],
            buffers["output_tokens"],
            buffers["max_tokens"],
            buffers["estimated_tokens"],
            overrides,
        )
        return cls(core)


# -- column helpers (numpy fast paths; plain lists and array.array otherwise) ------------------


def _item(column: Any, i: int, np) -> Any:
    value = column[i]
    if np is not None and isinstance(value, np.generic):
        value = value.item()
    return value


def _float_column(values: Any, n: int, np):
    if np is not None and isinstance(values, np.ndarray):
        if np.issubdtype(values.dtype, np.datetime64):
            return values.astype("datetime64[ns]").astype(np.int64).astype(np.float64) / 1e9
        if values.dtype.kind in "iuf":
            return np.ascontiguousarray(values, dtype=np.float64)
        values = values.tolist()
    return array.array("d", (to_seconds(values[i], f"timestamp[{i}]") for i in range(n)))


def _int_column(values: Any, name: str, n: int, np):
    """None, a numpy int64 array (with a float NaN-marked copy when values are missing), or a
    list of int | None."""
    if values is None:
        return None
    if np is not None and isinstance(values, np.ndarray) and values.dtype.kind in "iu":
        if values.size and (values.min() < 0 or values.max() >= _MAX_TOKENS):
            bad = int(np.argmax((values < 0) | (values >= _MAX_TOKENS)))
            raise ValueError(f"{name}[{bad}]: {values[bad]} is out of range [0, 2**53)")
        return np.ascontiguousarray(values, dtype=np.int64)
    return [_token_count(_item(values, i, np), f"{name}[{i}]") for i in range(n)]


def _int_fill(value: Any, name: str, n: int):
    """One token count for every row, as an int64 column."""
    count = _token_count(value, name)
    np = numpy_module()
    if count is None:
        return [None] * n
    if np is not None:
        return np.full(n, count, dtype=np.int64)
    return array.array("q", [count]) * n


def _has_missing(values) -> bool:
    return isinstance(values, list) and any(v is None for v in values)


def _value_at(values, i: int) -> int | None:
    return values[i] if isinstance(values, list) else int(values[i])


def _fill(values, n: int, np, estimate, error: str) -> list:
    out = []
    for i in range(n):
        v = _value_at(values, i) if values is not None else None
        if v is None:
            v = estimate(i)
            if v is None:
                raise ValueError(f"row {i}: {error}")
        out.append(v)
    return out


def _int_buffer(values, np):
    if values is None:
        return None
    if np is not None:
        if isinstance(values, np.ndarray):
            return values
        if not _has_missing(values):
            return np.asarray(values, dtype=np.int64)
    if _has_missing(values):
        # Only max_tokens and estimated_tokens may be missing: -1 means "absent" there.
        return array.array("q", (-1 if v is None else v for v in values))
    return array.array("q", values)


# -- files -------------------------------------------------------------------------------------


def read_jsonl(path: "str | os.PathLike[str]", **options: Any) -> Trace:
    """A trace from a JSON Lines file: one JSON object per line (blank lines skipped)."""
    records = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{os.fspath(path)}:{lineno}: invalid JSON: {e.msg}") from None
            if not isinstance(record, dict):
                raise ValueError(f"{os.fspath(path)}:{lineno}: expected a JSON object per line")
            records.append(record)
    return Trace.from_records(records, **options)


def _json_cell(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{where}: invalid JSON: {e.msg}") from None


def read_csv(path: "str | os.PathLike[str]", **options: Any) -> Trace:
    """A trace from a CSV file with a header row naming the fields. `headers` holds a JSON
    object; `latency` a number or a JSON object; `outcome` a name or a JSON object; empty cells
    are missing."""
    records = []
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames is None:
            raise ValueError(f"{os.fspath(path)}: empty CSV file (a header row is required)")
        for lineno, row in enumerate(reader, 2):
            where = f"{os.fspath(path)}:{lineno}"
            record: dict[str, Any] = {}
            for key, value in row.items():
                if key is None:
                    raise ValueError(f"{where}: more cells than header columns")
                if value is None or value == "":
                    continue
                if key == "headers":
                    value = _json_cell(value, f"{where}: headers")
                    if not isinstance(value, dict):
                        raise ValueError(f"{where}: headers must be a JSON object")
                elif key in ("latency", "outcome") and value.lstrip().startswith("{"):
                    value = _json_cell(value, f"{where}: {key}")
                elif key == "latency":
                    try:
                        value = float(value)
                    except ValueError:
                        raise ValueError(f"{where}: latency {value!r} is not a number") from None
                record[key] = value
            records.append(record)
    return Trace.from_records(records, **options)


def as_trace(source: Any, **options: Any) -> Trace:
    """A Trace from a Trace, a list of dicts, a dict of columns, or a .jsonl / .csv path."""
    if isinstance(source, Trace):
        return source
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if path.endswith(".csv"):
            return read_csv(path, **options)
        if path.endswith((".jsonl", ".ndjson", ".json")):
            return read_jsonl(path, **options)
        raise ValueError(f"{path}: expected a .jsonl or .csv file")
    if isinstance(source, Mapping):
        return Trace.from_columns(source, **options)
    if isinstance(source, Sequence) or hasattr(source, "__iter__"):
        return Trace.from_records(source, **options)
    raise TypeError(
        "a trace is a Trace, a list of dicts, a dict of columns or a .jsonl/.csv path; "
        f"got {type(source).__name__}"
    )
