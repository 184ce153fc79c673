"""Loading manifests: the same InferenceBackend / InferenceRoute / Secret files the proxy reads."""

from __future__ import annotations

import os
from typing import Union

from . import _core

Config = _core.Config
ConfigError = _core.ConfigError  # a ValueError subclass carrying the loader's message

ConfigSource = Union[Config, str, bytes, "os.PathLike[str]"]


def load_config(source: ConfigSource) -> Config:
    """Loads and validates a manifest set.

    `source` is a path to a file or directory (every *.yaml, *.yml and *.json directly inside it)
    when such a path exists, else YAML (or JSON) text. A pathlib.Path must exist. Raises
    ConfigError with the loader's message (file:line: object: field: problem, one per line).
    """
    if isinstance(source, Config):
        return source
    if isinstance(source, bytes):
        try:
            source = source.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ConfigError(f"config bytes are not UTF-8: {e}") from None
    if isinstance(source, os.PathLike):
        path = os.fspath(source)
        if not isinstance(path, str):
            raise TypeError("config paths must be str paths")
        if not os.path.exists(path):
            raise ConfigError(f"{path}: no such file or directory")
        return _core.load_config_path(path)
    if not isinstance(source, str):
        raise TypeError(
            "load_config() takes a path, YAML text or a Config, "
            f"not {type(source).__name__}"
        )
    if "\n" not in source and "\0" not in source and os.path.exists(source):
        return _core.load_config_path(source)
    try:
        return _core.load_config_text(source)
    except ConfigError as e:
        looks_like_path = "\n" not in source and ":" not in source
        if looks_like_path:
            raise ConfigError(
                f"{source}: no such file or directory (and not YAML manifests: {e})"
            ) from None
        raise


def as_config(config: ConfigSource) -> Config:
    """A Config from a Config, a path or YAML text (see load_config)."""
    return config if isinstance(config, Config) else load_config(config)
