"""Helpers of the stress tests: scaling, sanitizer reports, /proc and /metrics readers."""

from __future__ import annotations

import pathlib
import re

import harness

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "WARNING: ThreadSanitizer", "ERROR: ThreadSanitizer")


def scaled(scale: float, n: int, minimum: int = 1) -> int:
    return max(minimum, int(n * scale))


def sanitizer_report(text: str) -> str:
    """The first sanitizer report in `text` (up to 60 lines), or ""."""
    for marker in SANITIZER_MARKERS:
        at = text.find(marker)
        if at >= 0:
            start = text.rfind("\n=", 0, at)
            start = text.rfind("\n", 0, at) if start < 0 else start
            return "\n".join(text[max(0, start):].splitlines()[:60])
    return ""


def proxy_rss_kib(proxy: harness.Proxy) -> tuple[int, int]:
    """(VmRSS, VmHWM) of the proxy in KiB, from /proc/PID/status."""
    fields = {}
    for line in pathlib.Path(f"/proc/{proxy.proc.pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0])
    return fields["VmRSS"], fields["VmHWM"]


_SERIES = re.compile(r"^([a-z_]+)\{([^}]*)\} (\S+)$")


def metric_series(text: str, name: str) -> list[tuple[dict, float]]:
    """Every sample of `name` in a Prometheus text page: ({label: value}, value)."""
    out = []
    for line in text.splitlines():
        m = _SERIES.match(line)
        if m and m.group(1) == name:
            labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(2)))
            out.append((labels, float(m.group(3))))
    return out


def requests_by_status(proxy: harness.Proxy) -> dict[str, int]:
    """inference_gateway_requests_total summed by status."""
    counts: dict[str, int] = {}
    for labels, value in metric_series(proxy.get("/metrics").text,
                                       "inference_gateway_requests_total"):
        counts[labels["status"]] = counts.get(labels["status"], 0) + int(value)
    return counts


def ledger_requests(proxy: harness.Proxy) -> dict[str, int]:
    """Requests per backend in the cost ledger (/admin/costs)."""
    costs = proxy.admin_json("/admin/costs")
    return {row["name"]: row["requests"] for row in costs.get("by_backend", [])}
