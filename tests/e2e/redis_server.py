"""A real redis-server for the scale-out tests: started on a free loopback port, stopped at the end.

`RedisServer.start(tmp_path)` runs `redis-server` without persistence; `command(...)` speaks just
enough RESP to send a command and read its reply; `stop()` and `restart()` kill it and start it
again on the same port (empty, like a Redis that lost its data).
"""

from __future__ import annotations

import pathlib
import shutil
import socket
import subprocess

import harness


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _read_reply(f):
    line = f.readline()
    if not line:
        raise ConnectionError("redis closed the connection")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        raise RuntimeError(rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)
        return data[:-2].decode()
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [_read_reply(f) for _ in range(n)]
    raise RuntimeError(f"unexpected RESP reply {line!r}")


class RedisServer:
    def __init__(self, tmp_path: pathlib.Path):
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        if not pathlib.Path(binary).exists():
            raise harness.E2EError("redis-server is not installed (scripts/install-deps.sh)")
        self.binary = binary
        self.dir = tmp_path / "redis"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.starts += 1
        log = open(self.dir / f"redis{self.starts}.log", "wb")
        self.proc = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.dir), "--enable-debug-command", "local"],
            stdout=log, stderr=subprocess.STDOUT)
        log.close()
        harness.wait_until(self._answers, what="redis-server to answer PING")
        return self

    def _answers(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise harness.E2EError(f"redis-server exited with {self.proc.returncode}")
        try:
            return self.command("PING") == "PONG"
        except OSError:
            return False

    def command(self, *args, timeout: float = 5.0):
        with socket.create_connection(("127.0.0.1", self.port), timeout=timeout) as s:
            out = [f"*{len(args)}\r\n".encode()]
            for a in args:
                b = str(a).encode()
                out.append(b"$%d\r\n%s\r\n" % (len(b), b))
            s.sendall(b"".join(out))
            with s.makefile("rb") as f:
                return _read_reply(f)

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None

    def restart(self):
        self.stop()
        self.start()

    def keys(self, pattern: str = "*") -> list[str]:
        return self.command("KEYS", pattern)

    def pause(self, seconds: float):
        """Blocks the server for `seconds` (DEBUG SLEEP), from a background connection."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=seconds + 10)
        s.sendall(f"*3\r\n$5\r\nDEBUG\r\n$5\r\nSLEEP\r\n${len(str(seconds))}\r\n{seconds}\r\n"
                  .encode())
        # Read nothing: the caller closes the socket after the sleep. Tests check that the sleep
        # was seen (the proxy counts a timeout), not when it began.
        return s
