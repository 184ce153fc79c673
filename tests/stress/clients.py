"""Cheap HTTP/1.1 clients for the stress tests: one asyncio coroutine per connection on raw
sockets, so a test can hold thousands of streams from one Python process.

  results = run(many(port, [Plan(body=chat(stream=True)) for _ in range(1000)]))
  assert all(r.clean for r in results)

A `Plan` says what the client sends and when it leaves; an `Outcome` records what it saw: the
status, headers, the de-chunked body, whether the response ended cleanly (a complete body, or a
closed connection after a complete response), and which mock names ("Hello from NAME") the
content mentions.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
import socket
import time

NAME_RE = re.compile(rb"Hello from ([A-Za-z0-9_-]+)")

# When a client leaves (Plan.leave).
STAY = "stay"                      # read the whole response
BEFORE_BODY_END = "before_body"    # close after part of the request body
WAITING_UPSTREAM = "waiting"       # close after the whole request, before any response byte
MID_STREAM = "mid_stream"          # close after `leave_after` response bytes (inside an event)
BETWEEN_CHUNKS = "between_chunks"  # close right after the `leave_after`-th complete SSE event


def chat(model: str = "m", stream: bool = True, include_usage: bool = False,
         content: str = "Hi") -> bytes:
    body = {"model": model, "messages": [{"role": "user", "content": content}]}
    if stream:
        body["stream"] = True
        if include_usage:
            body["stream_options"] = {"include_usage": True}
    return json.dumps(body).encode()


def post(body: bytes, path: str = "/v1/chat/completions", extra: str = "") -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: stress\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{extra}\r\n").encode() + body


@dataclasses.dataclass
class Plan:
    body: bytes = b""              # request body (POST /v1/chat/completions)
    raw: bytes | None = None       # a complete raw request instead of `body`
    leave: str = STAY
    leave_after: int = 0           # bytes (MID_STREAM) or SSE events (BETWEEN_CHUNKS)
    leave_delay: float = 0.0       # WAITING_UPSTREAM: seconds after the request is sent
    rcvbuf: int = 0                # SO_RCVBUF before connecting (slow readers); 0 = default
    read_pause: float = 0.0        # seconds between reads of up to `read_size` bytes
    read_size: int = 65536
    hold: asyncio.Event | None = None  # when set, the client stops reading until it is set
    tag: str = ""


@dataclasses.dataclass
class Outcome:
    plan: Plan
    status: int = 0
    headers: dict = dataclasses.field(default_factory=dict)
    body: bytes = b""
    complete: bool = False   # the response ended where its framing says it ends
    closed: bool = False     # the server closed the connection (EOF or reset)
    left: bool = False       # the client left on purpose (Plan.leave)
    error: str = ""
    sent_all: bool = False   # the whole request went out
    started: float = 0.0
    ended: float = 0.0

    def __repr__(self) -> str:
        return (f"Outcome(tag={self.plan.tag!r}, leave={self.plan.leave}, status={self.status}, "
                f"complete={self.complete}, closed={self.closed}, left={self.left}, "
                f"error={self.error!r}, backend={self.headers.get('x-inferencegw-backend')}, "
                f"request_id={self.headers.get('x-request-id')}, body={self.body[:400]!r}"
                f"{'...' if len(self.body) > 400 else ''})")

    @property
    def clean(self) -> bool:
        """Complete, or the client left on purpose (nothing to judge then)."""
        return self.left or (self.complete and not self.error)

    def names(self) -> set[str]:
        return {m.decode() for m in NAME_RE.findall(self.body)}

    def events(self) -> list[str]:
        """The `data:` payloads of an SSE body."""
        out = []
        for block in self.body.replace(b"\r\n", b"\n").split(b"\n\n"):
            for line in block.split(b"\n"):
                if line.startswith(b"data:"):
                    out.append(line[5:].strip().decode(errors="replace"))
        return out

    def stream_text(self) -> str:
        text = []
        for data in self.events():
            if data == "[DONE]":
                continue
            try:
                chunk = json.loads(data)
            except ValueError:
                continue
            for choice in chunk.get("choices") or []:
                text.append((choice.get("delta") or {}).get("content") or "")
        return "".join(text)

    def done(self) -> bool:
        events = self.events()
        return bool(events) and events[-1] == "[DONE]"

    def stream_error(self) -> dict | None:
        """The proxy's error event that ends a broken stream, if any."""
        for data in reversed(self.events()):
            if data == "[DONE]":
                continue
            try:
                chunk = json.loads(data)
            except ValueError:
                return None
            return chunk.get("error") if isinstance(chunk, dict) else None
        return None


class _Reader:
    """Buffered reads over an asyncio StreamReader with a byte budget (MID_STREAM)."""

    def __init__(self, reader: asyncio.StreamReader, plan: Plan):
        self.reader = reader
        self.plan = plan
        self.buf = b""
        self.eof = False

    async def fill(self) -> bool:
        if self.plan.hold is not None and not self.plan.hold.is_set():
            await self.plan.hold.wait()
        if self.plan.read_pause:
            await asyncio.sleep(self.plan.read_pause)
        data = await self.reader.read(self.plan.read_size)
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    async def line(self) -> bytes | None:
        while b"\r\n" not in self.buf:
            if not await self.fill():
                return None
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    async def exactly(self, n: int) -> bytes | None:
        while len(self.buf) < n:
            if not await self.fill():
                return None
        out, self.buf = self.buf[:n], self.buf[n:]
        return out


class _Leave(Exception):
    pass


async def _read_response(r: _Reader, out: Outcome, head_only_method: bool = False):
    plan = out.plan
    line = await r.line()
    if line is None:
        out.closed = True
        return
    parts = line.split(b" ", 2)
    out.status = int(parts[1])
    while True:
        line = await r.line()
        if line is None:
            out.closed = True
            return
        if not line:
            break
        name, _, value = line.decode("latin-1").partition(":")
        key = name.strip().lower()
        value = value.strip()
        out.headers[key] = f"{out.headers[key]}, {value}" if key in out.headers else value
    if out.status in (100,):
        out.headers.clear()
        return await _read_response(r, out)
    events_seen = 0

    def account(data: bytes):
        nonlocal events_seen
        out.body += data
        if plan.leave == MID_STREAM and len(out.body) >= plan.leave_after > 0:
            raise _Leave()
        if plan.leave == BETWEEN_CHUNKS:
            events_seen = out.body.count(b"\n\n")
            if events_seen >= plan.leave_after:
                raise _Leave()

    if head_only_method or out.status in (204, 304):
        out.complete = True
        return
    te = out.headers.get("transfer-encoding", "").lower()
    if "chunked" in te:
        while True:
            size_line = await r.line()
            if size_line is None:
                out.closed = True
                return
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                while True:  # trailers
                    t = await r.line()
                    if t is None:
                        out.closed = True
                        return
                    if not t:
                        break
                out.complete = True
                return
            while size > 0:
                if not r.buf and not await r.fill():
                    out.closed = True
                    return
                piece = r.buf[:size]
                r.buf = r.buf[size:]
                size -= len(piece)
                account(piece)
            if await r.exactly(2) != b"\r\n":
                out.error = "bad chunk terminator"
                return
    elif "content-length" in out.headers:
        remaining = int(out.headers["content-length"])
        while remaining > 0:
            if not r.buf and not await r.fill():
                out.closed = True
                return
            piece = r.buf[:remaining]
            r.buf = r.buf[remaining:]
            remaining -= len(piece)
            account(piece)
        out.complete = True
    else:  # read to close
        while await r.fill():
            pass
        account(r.buf)
        r.buf = b""
        out.complete = True
        out.closed = True


async def one(port: int, plan: Plan, timeout: float = 60.0) -> Outcome:
    """Runs one request by `plan` on a fresh connection."""
    out = Outcome(plan, started=time.monotonic())
    writer = None
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        if plan.rcvbuf:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, plan.rcvbuf)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
        reader, writer = await asyncio.open_connection(sock=sock, limit=1 << 20)
        request = plan.raw if plan.raw is not None else post(plan.body)
        if plan.leave == BEFORE_BODY_END:
            cut = request.index(b"\r\n\r\n") + 4 + max(1, plan.leave_after)
            writer.write(request[:min(cut, len(request) - 1)])
            await writer.drain()
            out.left = True
            return out
        writer.write(request)
        await writer.drain()
        out.sent_all = True
        if plan.leave == WAITING_UPSTREAM:
            await asyncio.sleep(plan.leave_delay)
            out.left = True
            return out
        r = _Reader(reader, plan)
        try:
            await asyncio.wait_for(_read_response(r, out), timeout)
        except _Leave:
            out.left = True
        if not out.left and out.complete:
            # A response that says "close" must be followed by EOF.
            if out.headers.get("connection", "").lower() == "close":
                try:
                    tail = await asyncio.wait_for(reader.read(1), 10)
                    out.closed = tail == b""
                except (ConnectionError, asyncio.TimeoutError):
                    out.closed = True
    except asyncio.TimeoutError:
        out.error = "timeout"
    except (ConnectionError, OSError) as e:
        out.closed = True
        if not out.left:
            out.error = f"{type(e).__name__}: {e}"
    finally:
        out.ended = time.monotonic()
        if writer is None:
            sock.close()
        else:
            if out.left:
                writer.transport.abort()
            else:
                writer.close()
            try:
                await writer.wait_closed()
            except (ConnectionError, OSError):
                pass
    return out


async def many(port: int, plans: list[Plan], timeout: float = 60.0,
               ramp: int = 200) -> list[Outcome]:
    """Runs every plan concurrently (connecting `ramp` at a time so the accept queue keeps up)."""
    tasks = []
    for i, plan in enumerate(plans):
        tasks.append(asyncio.create_task(one(port, plan, timeout)))
        if ramp and i % ramp == ramp - 1:
            await asyncio.sleep(0.01)
    return list(await asyncio.gather(*tasks))


def run(coro):
    """asyncio.run(coro), then one more loop turn so that aborted transports close their
    sockets (their connection_lost callbacks are scheduled, not run, by abort())."""

    async def main():
        try:
            return await coro
        finally:
            await asyncio.sleep(0.05)

    return asyncio.run(main())
