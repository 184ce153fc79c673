"""Routing decisions for single requests, from the library's own RouteTable."""

from __future__ import annotations

from typing import Any, Mapping

from . import _core
from ._config import ConfigSource, as_config

Decision = _core.Decision


class Router:
    """Decides requests with the config's compiled RouteTable, as the proxy does.

    Every backend is taken as healthy and idle (a fresh proxy); the Simulator is the tool for
    decisions under load, outages and limits. Immutable and thread-safe.
    """

    def __init__(self, config: ConfigSource):
        self._config = as_config(config)
        self._core = _core.Router(self._config)

    @property
    def config(self) -> _core.Config:
        return self._config

    @property
    def routes(self) -> list[str]:
        return self._core.routes

    @property
    def backends(self) -> list[str]:
        return self._core.backends

    def decide(self, request: Mapping[str, Any], entropy: int = 0) -> Decision:
        """The decision for one request.

        `request` is a dict with any of: method ("POST"), path ("/v1/chat/completions"),
        headers (dict or (name, value) pairs), model, user. `user` reaches the router as the
        proxy would see it: with client keys configured, as the authenticated user; otherwise in
        the routes' user header (x-user-id by default) unless `headers` already has it.
        `entropy` is the request's 64-bit random value (weighted picks; arms of keyless users).
        """
        if not isinstance(request, dict):
            if isinstance(request, Mapping):
                request = dict(request)
            else:
                raise TypeError(
                    "request must be a dict with keys among: method, path, headers, model, user; "
                    f"got {type(request).__name__}"
                )
        return self._core.decide(request, entropy)

    def __repr__(self) -> str:
        return f"<inferencegw.Router: {len(self.routes)} routes, {len(self.backends)} backends>"
