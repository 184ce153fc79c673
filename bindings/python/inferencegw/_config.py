"""Loading manifests: the same InferenceBackend / InferenceRoute / Secret files the proxy reads,
and changing a loaded set's fields from Python (Config.with_overrides)."""

from __future__ import annotations

import decimal
import json
import os
from collections.abc import Mapping
from typing import Any, Optional, Union

from . import _core

Config = _core.Config
ConfigError = _core.ConfigError  # a ValueError subclass carrying the loader's message

ConfigSource = Union[Config, str, bytes, "os.PathLike[str]"]

_SECTIONS = ("backends", "routes")


def load_config(*sources: Any) -> Config:
    """Loads and validates a manifest set from one or more sources (or one list of them).

    Each source is a path to a file or directory (every *.yaml, *.yml and *.json directly inside
    it) when such a path exists, else YAML (or JSON) text, or a Config loaded before. A
    pathlib.Path must exist. Several sources are read as one set, as the proxy reads the files of
    one directory: references are checked across them and an object defined twice is an error
    naming both places. Raises ConfigError with the loader's message (file:line: object: field:
    problem, one per line); texts are named "<string>" (one source) or "<string N>" (the Nth).
    """
    if len(sources) == 1 and isinstance(sources[0], (list, tuple)):
        sources = tuple(sources[0])
    if not sources:
        raise TypeError("load_config() needs at least one source")
    if len(sources) == 1:
        return _load_one(sources[0])
    items = [_source_item(source, f"<string {i}>") for i, source in enumerate(sources, 1)]
    return _core.load_config_sources(items)


def _text_or_path(source: Any) -> tuple[str, str]:
    """("path" | "text", the str) for a source that is not a Config; raises for wrong types."""
    if isinstance(source, bytes):
        try:
            return "text", source.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ConfigError(f"config bytes are not UTF-8: {e}") from None
    if isinstance(source, os.PathLike):
        path = os.fspath(source)
        if not isinstance(path, str):
            raise TypeError("config paths must be str paths")
        if not os.path.exists(path):
            raise ConfigError(f"{path}: no such file or directory")
        return "path", path
    if not isinstance(source, str):
        raise TypeError(
            "load_config() takes paths, YAML text or Configs, "
            f"not {type(source).__name__}"
        )
    if "\n" not in source and "\0" not in source and os.path.exists(source):
        return "path", source
    return "text", source


def _load_one(source: Any) -> Config:
    if isinstance(source, Config):
        return source
    kind, value = _text_or_path(source)
    if kind == "path":
        return _core.load_config_path(value)
    try:
        return _core.load_config_text(value)
    except ConfigError as e:
        looks_like_path = "\n" not in value and ":" not in value
        if looks_like_path:
            raise ConfigError(
                f"{value}: no such file or directory (and not YAML manifests: {e})"
            ) from None
        raise


def _source_item(source: Any, name: str) -> tuple:
    if isinstance(source, Config):
        return ("config", source)
    kind, value = _text_or_path(source)
    if kind == "path":
        return ("path", value)
    if "\n" not in value and ":" not in value:
        raise ConfigError(f"{value}: no such file or directory")
    return ("text", value, name)


def as_config(config: ConfigSource) -> Config:
    """A Config from a Config, a path or YAML text (see load_config)."""
    return config if isinstance(config, Config) else load_config(config)


def _json_value(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return str(value)  # prices stay exact: the loader reads "0.002" as written
    raise TypeError(f"{type(value).__name__} is not a manifest value")


def _with_overrides(
    self: Config,
    overrides: Optional[Mapping[str, Any]] = None,
    /,
    *,
    backends: Optional[Mapping[str, Any]] = None,
    routes: Optional[Mapping[str, Any]] = None,
) -> Config:
    """A new Config with fields of backends and routes changed; this one is left as it is.

        config.with_overrides({"backends": {"local-mistral": {"maxConcurrency": 20}},
                               "routes": {"chatbot-route": {"rateLimit": {"requestsPerMinute": 60}}}})
        config.with_overrides(routes={"chatbot-route": {"rateLimit": None}})  # same thing

    Objects are named "name" or "namespace/name". Fields are the manifests' own (camelCase) and
    are deep-merged into the object's `spec`: dicts merge key by key, None deletes a field (it
    takes its default), anything else (lists included) replaces the field whole. None in place of
    a whole object removes it. Prices may be str, int or decimal.Decimal ("0.002").

    The changed objects are validated by the loader, as if read from a file named for the
    override: ConfigError("<override backends.local-mistral>: InferenceBackend
    default/local-mistral: spec.maxConcurrency: must be at least 1, got 0"), also for an unknown
    object name ("<override routes.nope>: no InferenceRoute \\"nope\\" (there are: ...)").
    To add objects, load them with this Config: load_config(config, more_yaml).
    """
    sections: dict[str, Any] = {}
    if overrides is not None:
        if not isinstance(overrides, Mapping):
            raise TypeError(
                "with_overrides() takes a dict {'backends': {...}, 'routes': {...}}, "
                f"not {type(overrides).__name__}"
            )
        for section, objects in overrides.items():
            if section not in _SECTIONS:
                raise ConfigError(
                    f"with_overrides: unknown section {section!r} (use 'backends' or 'routes')"
                )
            sections[section] = objects
    for section, objects in (("backends", backends), ("routes", routes)):
        if objects is None:
            continue
        if section in sections:
            raise TypeError(f"with_overrides: {section} given twice")
        sections[section] = objects

    items = []
    for section, objects in sections.items():
        if not isinstance(objects, Mapping):
            raise TypeError(
                f"with_overrides: {section} must be a dict {{name: spec fields}}, "
                f"not {type(objects).__name__}"
            )
        for name, patch in objects.items():
            if not isinstance(name, str):
                raise TypeError(f"with_overrides: {section} names must be str, not {name!r}")
            where = f"<override {section}.{name}>"
            if patch is None:
                items.append((section, name, None, where))
                continue
            if not isinstance(patch, Mapping):
                raise TypeError(
                    f"{where}: the spec fields must be a dict, not {type(patch).__name__}"
                )
            try:
                text = json.dumps(dict(patch), default=_json_value, allow_nan=False)
            except TypeError as e:
                raise TypeError(f"{where}: {e}") from None
            except ValueError as e:
                raise ConfigError(f"{where}: {e}") from None
            items.append((section, name, text, where))
    return _core.apply_overrides(self, items)


Config.with_overrides = _with_overrides
