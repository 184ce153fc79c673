"""inferencegw: the gateway's routing code and an offline simulator, for "what if" questions.

    import inferencegw
    config = inferencegw.load_config("examples/demo")
    d = inferencegw.Router(config).decide({"model": "claude-3", "user": "alice"})
    trace = inferencegw.generate_traffic(users=100, duration=3600, rate=2, seed=1)
    result = inferencegw.Simulator(config, {"local-mistral": {"outages": [(0, 7200)]}},
                                   seed=1).run(trace)
    result.summary["cost"]["backend"]

The answers come from the C++ library the proxy runs (see docs/python.md).
"""

from ._config import Config, ConfigError, load_config
from ._core import __version__, experiment_bucket, fmix64, split_mix64, stable_hash64
from ._router import Decision, Router
from ._scenario import KNOBS as SCENARIO_KNOBS
from ._simulation import COLUMNS, SimulationResult, Simulator
from ._trace import FIELDS as TRACE_FIELDS
from ._trace import Trace, read_csv, read_jsonl
from ._traffic import generate_traffic

__all__ = [
    "COLUMNS",
    "Config",
    "ConfigError",
    "Decision",
    "Router",
    "SCENARIO_KNOBS",
    "SimulationResult",
    "Simulator",
    "TRACE_FIELDS",
    "Trace",
    "experiment_bucket",
    "fmix64",
    "generate_traffic",
    "load_config",
    "read_csv",
    "read_jsonl",
    "split_mix64",
    "stable_hash64",
]
