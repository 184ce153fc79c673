# Type stubs for the inferencegw package (the public API re-exported by __init__.py).
import os
from typing import Any, Iterable, Mapping, Sequence, Union

__version__: str

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

COLUMNS: tuple[str, ...]
SCENARIO_KNOBS: tuple[str, ...]
TRACE_FIELDS: tuple[str, ...]

class ConfigError(ValueError): ...

class Config:
    @property
    def backends(self) -> list[str]: ...
    @property
    def routes(self) -> list[str]: ...
    @property
    def warnings(self) -> list[str]: ...
    def to_json(self) -> str: ...
    def with_overrides(
        self,
        overrides: Mapping[str, Mapping[str, Mapping[str, Any] | None]] | None = None,
        /,
        *,
        backends: Mapping[str, Mapping[str, Any] | None] | None = None,
        routes: Mapping[str, Mapping[str, Any] | None] | None = None,
    ) -> Config: ...

ConfigSource = Union[Config, str, bytes, os.PathLike[str]]

def load_config(*sources: ConfigSource | Sequence[ConfigSource]) -> Config: ...

class Decision:
    @property
    def status(self) -> str: ...
    @property
    def ok(self) -> bool: ...
    @property
    def route(self) -> str | None: ...
    @property
    def rule(self) -> int: ...
    @property
    def picked(self) -> str | None: ...
    @property
    def backend(self) -> str | None: ...
    @property
    def experiment(self) -> str | None: ...
    @property
    def arm(self) -> str: ...
    @property
    def user_key(self) -> str: ...
    @property
    def user_hash(self) -> int: ...
    @property
    def plan(self) -> list[str]: ...
    @property
    def panic(self) -> bool: ...
    @property
    def reason(self) -> str | None: ...
    def to_dict(self) -> dict[str, Any]: ...

class Router:
    def __init__(self, config: ConfigSource) -> None: ...
    @property
    def config(self) -> Config: ...
    @property
    def routes(self) -> list[str]: ...
    @property
    def backends(self) -> list[str]: ...
    def decide(self, request: Mapping[str, Any], entropy: int = 0) -> Decision: ...

class Trace:
    def __len__(self) -> int: ...
    @property
    def timestamps(self) -> Any: ...
    @classmethod
    def from_records(
        cls,
        records: Iterable[Mapping[str, Any]],
        *,
        default_output_tokens: int = ...,
        ignore_unknown: bool = ...,
    ) -> Trace: ...
    @classmethod
    def from_columns(
        cls,
        columns: Mapping[str, Any],
        *,
        default_output_tokens: int = ...,
        ignore_unknown: bool = ...,
    ) -> Trace: ...

def read_jsonl(path: str | os.PathLike[str], **options: Any) -> Trace: ...
def read_csv(path: str | os.PathLike[str], **options: Any) -> Trace: ...

class SimulationResult:
    def __len__(self) -> int: ...
    @property
    def summary(self) -> dict[str, Any]: ...
    @property
    def names(self) -> dict[str, list[str]]: ...
    @property
    def columns(self) -> dict[str, Any]: ...
    def __getitem__(self, name: str) -> Any: ...
    def codes(self, name: str) -> tuple[Any, list[str]]: ...
    def to_records(self) -> list[dict[str, Any]]: ...
    def to_pandas(self) -> Any: ...
    def by_time(self, every: str | float = ...) -> dict[str, Any]: ...
    def compare_arms(
        self,
        metric: str | None = ...,
        confidence: float = ...,
        power: float = ...,
        seed: int | None = ...,
        resamples: int = ...,
        min_samples: int = ...,
    ) -> list[dict[str, Any]]: ...

class Simulator:
    def __init__(
        self,
        config: ConfigSource,
        scenario: Mapping[str, Any] | None = None,
        *,
        seed: int = 0,
        probes: bool = True,
        max_users: int = 1000,
        replicas: int = 1,
        shared_store: bool = False,
    ) -> None: ...
    @property
    def config(self) -> Config: ...
    @property
    def backends(self) -> list[str]: ...
    def run(
        self,
        trace: Trace | Sequence[Mapping[str, Any]] | Mapping[str, Any] | str | os.PathLike[str],
        *,
        numpy: bool | None = None,
        **trace_options: Any,
    ) -> SimulationResult: ...

def stable_hash64(data: str | bytes) -> int: ...
def fmix64(k: int) -> int: ...
def split_mix64(x: int) -> int: ...
def experiment_bucket(experiment: str | bytes, user: str | bytes) -> int: ...

def generate_traffic(
    *,
    users: int = ...,
    duration: float = ...,
    rate: float = ...,
    start: float = ...,
    arrivals: str = ...,
    peak_hour: float = ...,
    swing: float = ...,
    user_skew: float = ...,
    input_tokens: tuple[float, float] = ...,
    output_tokens: tuple[float, float] = ...,
    model: str | None = ...,
    models: Mapping[str, float] | None = ...,
    seed: int = ...,
) -> Trace: ...
