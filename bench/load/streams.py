#!/usr/bin/python3
"""Many concurrent streams through a relay: memory per open stream, CPU per chunk, stream time.

Opens N concurrent streaming POSTs to /v1/chat/completions of each target (one target after the
other), reads every stream to its end and records, per target:

- the median and p99 stream completion time (from the start of the TCP connect to the last byte
  of the chunked body) and the time to the first event;
- the SSE events received (`data:` lines: the role chunk, the --chunks content chunks, the finish
  chunk and [DONE]), which are the chunks the relay relayed;
- for a target given with PIDs: RSS (VmRSS, from /proc/PID/statm, summed over the PIDs) idle
  and its maximum while the streams are open, and CPU time (utime + stime of /proc/PID/stat,
  summed over the PIDs) over the run.

The mock's stream shape is set through its POST /mock/config before each target (chunks and
chunk_interval_ms), so every target sees the same streams. A short warm-up (16 streams of 2
chunks) runs before each target's idle sample.

  streams.py --mock http://127.0.0.1:P --streams N --chunks C --interval-ms I \
      --target direct=http://127.0.0.1:P/v1/chat/completions \
      --target nginx=http://127.0.0.1:Q/v1/chat/completions@PID,PID \
      --target inferencegw=http://127.0.0.1:R/v1/chat/completions@PID [--json FILE]

Prints one line per target, then one summary row (header with --header). With --json, appends
one JSON object per run to FILE; `streams.py --summarize FILE...` prints the table of such files
and checks them against the issue's targets (memory <= 64 KB per stream, CPU per chunk <= 1.3x
nginx's, median stream <= 10 ms slower than direct at 1000+ streams, every stream held open at
once). A target process that dies mid-run is reported as DIED (its unfinished streams are
abandoned, the other targets still run); a run that makes no progress for --stall-seconds is
reported as STALLED. Exit status: 0 when every stream of every target completed, 1 otherwise.
"""
import argparse
import asyncio
import json
import os
import resource
import statistics
import sys
import time
import urllib.parse
import urllib.request

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024


# ---- /proc --------------------------------------------------------------------------------------

def proc_alive(pid):
    """False when the process is gone or a zombie (its parent has not reaped it yet)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rindex(b")") + 2:stat.rindex(b")") + 3] not in (b"Z", b"X")


def cpu_ticks(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total


def rss_kb(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/statm", "rb") as f:
                total += int(f.read().split()[1]) * PAGE_KB  # resident pages, same as VmRSS
        except OSError:
            continue
    return total


# ---- one stream ---------------------------------------------------------------------------------

class Stream(asyncio.Protocol):
    """One streaming POST over a fresh connection; parses HTTP/1.1 and chunked encoding.

    Counts `data:` occurrences in the decoded body (an SSE event per line) and notes [DONE].
    `done` resolves with None on a complete body, else with an error string.
    """

    def __init__(self, request, run):
        self.request = request
        self.run = run
        self.done = asyncio.get_running_loop().create_future()
        self.answered = asyncio.get_running_loop().create_future()  # headers arrived, or done
        self.transport = None
        self.buf = bytearray()
        self.state = "head"
        self.remaining = 0
        self.tail = b""
        self.events = 0
        self.saw_done = False
        self.first_event_at = None
        self.status = None
        self.length_mode = None  # "chunked", "length" or "close"

    def connection_made(self, transport):
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data):
        self.buf += data
        try:
            self._parse()
        except Exception as e:  # a malformed response: record it, do not kill the loop
            self._finish(f"bad response: {e}")

    def connection_lost(self, exc):
        if self.state == "body" and self.length_mode == "close":
            self._finish(None if self.saw_done else "closed before [DONE]")
        else:
            self._finish(f"connection lost ({self.state}): {exc or 'closed by peer'}")

    def _finish(self, error):
        if not self.done.done():
            self.done.set_result(error)
        if not self.answered.done():
            self.answered.set_result(None)
        if self.transport is not None:
            self.transport.close()

    def _body(self, data):
        joined = self.tail + data
        n = joined.count(b"data:") - self.tail.count(b"data:")
        if n:
            if self.first_event_at is None:
                self.first_event_at = time.monotonic()
            self.events += n
            self.run.events += n
        if not self.saw_done and b"[DONE]" in joined:
            self.saw_done = True
        self.tail = bytes(joined[-8:])

    def _parse(self):
        buf = self.buf
        while True:
            if self.state == "head":
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    if len(buf) > 65536:
                        raise ValueError("header block too large")
                    return
                lines = bytes(buf[:end]).decode("latin-1").split("\r\n")
                del buf[:end + 4]
                self.status = int(lines[0].split()[1])
                headers = {}
                for line in lines[1:]:
                    name, _, value = line.partition(":")
                    headers[name.strip().lower()] = value.strip().lower()
                if self.status != 200:
                    self._finish(f"status {self.status}")
                    return
                self.run.headers_received()
                self.answered.set_result(None)
                if "chunked" in headers.get("transfer-encoding", ""):
                    self.length_mode, self.state = "chunked", "size"
                elif "content-length" in headers:
                    self.length_mode, self.state = "length", "body"
                    self.remaining = int(headers["content-length"])
                else:
                    self.length_mode, self.state = "close", "body"
            elif self.state == "size":
                end = buf.find(b"\r\n")
                if end < 0:
                    return
                size = int(bytes(buf[:end]).split(b";")[0], 16)
                del buf[:end + 2]
                if size == 0:
                    self.state = "trailer"
                else:
                    self.state, self.remaining = "data", size
            elif self.state == "data":
                if not buf:
                    return
                take = min(self.remaining, len(buf))
                self._body(bytes(buf[:take]))
                del buf[:take]
                self.remaining -= take
                if self.remaining:
                    return
                self.state = "crlf"
            elif self.state == "crlf":
                if len(buf) < 2:
                    return
                del buf[:2]
                self.state = "size"
            elif self.state == "trailer":
                end = buf.find(b"\r\n")
                if end < 0:
                    return
                empty = end == 0
                del buf[:end + 2]
                if empty:
                    self.state = "complete"
                    self._finish(None if self.saw_done else "ended without [DONE]")
                    return
            elif self.state == "body":
                if self.length_mode == "length":
                    take = min(self.remaining, len(buf))
                    self._body(bytes(buf[:take]))
                    del buf[:take]
                    self.remaining -= take
                    if self.remaining == 0:
                        self.state = "complete"
                        self._finish(None if self.saw_done else "ended without [DONE]")
                    return
                self._body(bytes(buf))
                buf.clear()
                return
            else:
                buf.clear()  # after the end: ignore
                return


# ---- one target ---------------------------------------------------------------------------------

class Run:
    """Shared counters of one target's run (the event loop is single-threaded)."""

    def __init__(self):
        self.events = 0
        self.open = 0  # streams whose response headers arrived and that have not ended
        self.peak_open = 0
        self.finished = 0
        self.progress_at = time.monotonic()

    def headers_received(self):
        self.open += 1
        self.peak_open = max(self.peak_open, self.open)
        self.progress_at = time.monotonic()


async def one_stream(host, port, request, run, gate, results, stream_timeout):
    loop = asyncio.get_running_loop()
    acquired = released = False
    start = None
    proto = None
    try:
        await gate.acquire()
        acquired = True
        start = time.monotonic()
        _, proto = await asyncio.wait_for(
            loop.create_connection(lambda: Stream(request, run), host, port), 10)
        # Let the next stream start once this one is answered, so connects do not pile up in
        # the relay's accept queue (which would add SYN retransmits of a second to stream times).
        await asyncio.wait_for(asyncio.shield(proto.answered), stream_timeout)
        gate.release()
        released = True
        error = await asyncio.wait_for(asyncio.shield(proto.done), stream_timeout)
    except asyncio.TimeoutError:
        error = "timeout"
    except OSError as e:
        error = f"connect: {e.strerror or e}"
    except asyncio.CancelledError:
        error = "abandoned"
    except Exception as e:  # never lose a stream's result: the caller counts them
        error = f"client error: {e!r}"
    finally:
        if acquired and not released:
            gate.release()
        if proto is not None:
            if proto.status == 200:
                run.open -= 1
            if proto.transport is not None:
                proto.transport.close()
    end = time.monotonic()
    start = start or end
    run.finished += 1
    run.progress_at = end
    results.append({
        "error": error,
        "total": end - start,
        "first": (proto.first_event_at - start) if proto and proto.first_event_at else None,
        "events": proto.events if proto else 0,
    })


def build_request(url, model):
    u = urllib.parse.urlsplit(url)
    body = json.dumps({"model": model, "stream": True,
                       "messages": [{"role": "user", "content": "Say hello."}]}).encode()
    head = (f"POST {u.path or '/'} HTTP/1.1\r\nHost: {u.netloc}\r\n"
            "Content-Type: application/json\r\nAccept: text/event-stream\r\n"
            f"x-user-id: stream-bench\r\nContent-Length: {len(body)}\r\n\r\n")
    return u.hostname, u.port, head.encode() + body


async def run_streams(url, n, pids, open_concurrency, open_rate, stream_timeout, stall_seconds,
                      model):
    """Runs n concurrent streams; returns a dict of measurements (see main)."""
    host, port, request = build_request(url, model)
    run = Run()
    results = []
    gate = asyncio.Semaphore(open_concurrency)
    rss_idle = rss_kb(pids) if pids else None
    cpu_before = cpu_ticks(pids) if pids else None
    rss_peak = rss_idle or 0
    wall_start = time.monotonic()
    tasks = []

    async def launch():
        # Streams start at a steady rate (open_rate per second), so an open storm does not stall
        # this client's event loop and inflate the times of the streams already running.
        for i in range(n):
            delay = wall_start + i / open_rate - time.monotonic()
            if delay > 0.002:
                await asyncio.sleep(delay)
            tasks.append(asyncio.ensure_future(
                one_stream(host, port, request, run, gate, results, stream_timeout)))

    launcher = asyncio.ensure_future(launch())
    verdict = "ok"
    seen_events = 0
    lags = []  # how late the 20 ms sampler wakes: a busy client delays every stream
    while run.finished < n:
        before = time.monotonic()
        await asyncio.sleep(0.02)
        lags.append(time.monotonic() - before - 0.02)
        if run.events != seen_events:
            seen_events, run.progress_at = run.events, time.monotonic()
        if pids:
            rss_peak = max(rss_peak, rss_kb(pids))
            if not all(proc_alive(p) for p in pids):
                verdict = "DIED"
                break
        if time.monotonic() - run.progress_at > stall_seconds:
            verdict = "STALLED"
            break
    wall = time.monotonic() - wall_start
    if verdict != "ok":
        launcher.cancel()
        for t in tasks:
            t.cancel()
        await asyncio.gather(launcher, *tasks, return_exceptions=True)
        while run.finished < len(tasks):  # cancelled streams record themselves
            await asyncio.sleep(0.01)
        n_launched = len(tasks)
        for _ in range(n - n_launched):
            results.append({"error": "not started", "total": 0, "first": None, "events": 0})
    cpu_after = cpu_ticks(pids) if pids else None
    ok = [r for r in results if r["error"] is None]
    errors = {}
    for r in results:
        if r["error"] is not None:
            errors[r["error"]] = errors.get(r["error"], 0) + 1

    def q(xs, p):
        xs = sorted(xs)
        return xs[min(len(xs) - 1, int(p * len(xs)))] if xs else None

    totals = [r["total"] * 1000 for r in ok]
    firsts = [r["first"] * 1000 for r in ok if r["first"] is not None]
    out = {
        "verdict": verdict, "streams": n, "completed": len(ok), "errors": errors,
        "peak_open": run.peak_open, "events": run.events, "wall_s": round(wall, 2),
        "median_ms": round(statistics.median(totals), 2) if totals else None,
        "p99_ms": round(q(totals, 0.99), 2) if totals else None,
        "max_ms": round(max(totals), 2) if totals else None,
        "first_median_ms": round(statistics.median(firsts), 2) if firsts else None,
        "client_lag_p99_ms": round(q(lags, 0.99) * 1000, 1) if lags else None,
    }
    if pids:
        open_n = run.peak_open
        cpu_s = (cpu_after - cpu_before) / CLK_TCK if verdict != "DIED" else None
        out.update({
            "rss_idle_kb": rss_idle, "rss_peak_kb": rss_peak,
            "kb_per_stream": round((rss_peak - rss_idle) / open_n, 2) if open_n else None,
            "cpu_s": None if cpu_s is None else round(cpu_s, 3),
            "us_per_chunk": round(cpu_s / run.events * 1e6, 2)
            if cpu_s is not None and run.events else None,
        })
    return out


def mock_config(mock_url, **knobs):
    req = urllib.request.Request(mock_url.rstrip("/") + "/mock/config",
                                 data=json.dumps(knobs).encode(), method="POST",
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as resp:
        resp.read()


def parse_target(text):
    name, _, rest = text.partition("=")
    url, _, pids = rest.partition("@")
    if not name or not url:
        raise argparse.ArgumentTypeError(f"--target {text!r}: expected NAME=URL[@PID,PID...]")
    return name, url, [int(p) for p in pids.split(",") if p]


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


HEADER = (f"{'streams':>7} {'proxy KB/str':>12} {'nginx KB/str':>12} {'proxy us/chunk':>14} "
          f"{'nginx us/chunk':>14} {'ratio':>5}  {'median ms direct/nginx/proxy':<30} "
          f"{'added ms nginx/proxy':<20} notes")


def summary_row(n, by_name):
    d, g, p = by_name.get("direct", {}), by_name.get("nginx", {}), by_name.get("inferencegw", {})
    ratio = None
    if p.get("us_per_chunk") and g.get("us_per_chunk"):
        ratio = p["us_per_chunk"] / g["us_per_chunk"]

    def added(x):
        if x.get("median_ms") is None or d.get("median_ms") is None:
            return None
        return x["median_ms"] - d["median_ms"]

    medians = "/".join(fmt(x.get("median_ms"), ".1f") for x in (d, g, p))
    adds = f"{fmt(added(g), '+.1f')}/{fmt(added(p), '+.1f')}"
    notes = []
    for name, r in by_name.items():
        if r.get("verdict") != "ok" or r.get("completed") != r.get("streams"):
            notes.append(f"{name}: {r.get('verdict')} {r.get('completed')}/{r.get('streams')} ok")
        elif r.get("peak_open", 0) < 0.95 * r["streams"]:
            notes.append(f"{name}: only {r['peak_open']} open at once")
        if r.get("cpu_s") is not None and r["cpu_s"] < 0.3:
            notes.append(f"{name}: only {r['cpu_s']:.2f} s CPU (1/{CLK_TCK} s ticks): coarse")
    return (f"{n:>7} {fmt(p.get('kb_per_stream'), '.1f'):>12} "
            f"{fmt(g.get('kb_per_stream'), '.1f'):>12} "
            f"{fmt(p.get('us_per_chunk'), '.2f'):>14} {fmt(g.get('us_per_chunk'), '.2f'):>14} "
            f"{fmt(ratio, '.2f'):>5}  {medians:<30} {adds:<20} {'; '.join(notes)}")


def verdicts(runs):
    """Lines comparing the runs (dicts keyed by streams, then target) with the issue's targets."""
    out = []
    for n in sorted(runs):
        p, g, d = (runs[n].get(t, {}) for t in ("inferencegw", "nginx", "direct"))
        held = p.get("verdict") == "ok" and p.get("completed") == n
        parts = [f"{n} streams:"]
        if p.get("verdict") != "ok":
            pass  # a dead or stalled proxy's memory and CPU say nothing
        elif p.get("kb_per_stream") is not None:
            kb = p["kb_per_stream"]
            parts.append(f"memory {kb:.1f} KB/stream ({'met' if kb <= 64 else 'NOT met'}, <= 64);")
        if p.get("verdict") == "ok" and p.get("us_per_chunk") and g.get("us_per_chunk"):
            ratio = p["us_per_chunk"] / g["us_per_chunk"]
            parts.append(f"CPU/chunk {ratio:.2f}x nginx ({'met' if ratio <= 1.3 else 'NOT met'},"
                         " <= 1.3);")
        if (n >= 1000 and p.get("verdict") == "ok" and p.get("median_ms") is not None
                and d.get("median_ms") is not None):
            added = p["median_ms"] - d["median_ms"]
            parts.append(f"median +{added:.1f} ms ({'met' if added <= 10 else 'NOT met'},"
                         " <= 10);")
        if not held:
            parts.append(f"held: NO ({p.get('verdict')}, {p.get('completed')}/{n} completed)")
        elif (p.get("peak_open") or 0) < n:
            parts.append(f"held: not shown, all completed but only {p.get('peak_open')} were open"
                         " at once (the client or the ramp was too slow: a busy machine?)")
        else:
            parts.append(f"held: yes, all {n} open at once and completed")
        out.append(" ".join(parts))
    return out


def summarize(paths):
    runs = {}
    for path in paths:
        with open(path) as f:
            for line in f:
                if line.strip():
                    r = json.loads(line)
                    runs.setdefault(r["streams"], {})[r["target"]] = r
    print(HEADER)
    for n in sorted(runs):
        print(summary_row(n, runs[n]))
    print()
    for line in verdicts(runs):
        print("target check, " + line)


async def main_async(args):
    by_name = {}
    all_ok = True
    for name, url, pids in args.target:
        if pids and not all(proc_alive(p) for p in pids):
            r = {"verdict": "DIED", "streams": args.streams, "completed": 0, "target": name,
                 "note": "dead before its run"}
            if args.json:
                with open(args.json, "a") as f:
                    f.write(json.dumps(r) + "\n")
            print(f"# {name:<12} DIED before its run (pids {pids})", flush=True)
            by_name[name] = r
            all_ok = False
            continue
        if args.mock:
            mock_config(args.mock, chunks=2, chunk_interval_ms=1)
        warm = await run_streams(url, 16, [], 16, 1e6, 30, 10, args.model)
        if warm["completed"] != 16:
            print(f"# {name:<12} warm-up failed: {warm['errors']}", flush=True)
        if args.mock:
            mock_config(args.mock, chunks=args.chunks, chunk_interval_ms=args.interval_ms)
        await asyncio.sleep(0.5)  # let the warm-up connections close everywhere
        stream_ms = args.chunks * args.interval_ms
        r = await run_streams(url, args.streams, pids, args.open_concurrency, args.open_rate,
                              stream_timeout=max(30.0, 5 * stream_ms / 1000 + args.streams / 500),
                              stall_seconds=max(args.stall_seconds, 3 * args.interval_ms / 1000),
                              model=args.model)
        r.update({"target": name, "chunks": args.chunks, "interval_ms": args.interval_ms})
        by_name[name] = r
        all_ok = all_ok and r["verdict"] == "ok" and r["completed"] == r["streams"]
        mem = ""
        if pids:
            mem = (f" rss {r['rss_idle_kb']}->{r['rss_peak_kb']} KB"
                   f" = {fmt(r['kb_per_stream'], '.1f')} KB/stream;"
                   f" cpu {fmt(r['cpu_s'], '.2f')} s ="
                   f" {fmt(r['us_per_chunk'], '.2f')} us/chunk")
        errs = f" errors {r['errors']}" if r["errors"] else ""
        print(f"# {name:<12} {r['verdict']}: {r['completed']}/{r['streams']} streams ok, peak "
              f"{r['peak_open']} open, {r['events']} chunks in {r['wall_s']} s; median "
              f"{fmt(r['median_ms'], '.1f')} ms p99 {fmt(r['p99_ms'], '.1f')} ms first "
              f"{fmt(r['first_median_ms'], '.1f')} ms; client lag p99 "
              f"{fmt(r['client_lag_p99_ms'], '.1f')} ms;{mem}{errs}", flush=True)
        if args.json:
            with open(args.json, "a") as f:
                f.write(json.dumps(r) + "\n")
        if args.pause_after:
            await asyncio.sleep(args.pause_after)
    if args.header:
        print(HEADER)
    print(summary_row(args.streams, by_name), flush=True)
    return 0 if all_ok else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--summarize", nargs="+", metavar="JSON",
                    help="only print the table and target checks of earlier --json files")
    ap.add_argument("--target", type=parse_target, action="append",
                    help="NAME=URL[@PID,PID...]; names direct, nginx, inferencegw fill the row")
    ap.add_argument("--streams", type=int, default=1000)
    ap.add_argument("--chunks", type=int, default=20)
    ap.add_argument("--interval-ms", type=int, default=100)
    ap.add_argument("--mock", help="the mock's base URL, to set chunks and chunk_interval_ms")
    ap.add_argument("--model", default="mock-model")
    ap.add_argument("--open-concurrency", type=int, default=256,
                    help="streams being opened at once (connect until response headers)")
    ap.add_argument("--open-rate", type=float, default=2000,
                    help="streams started per second (the ramp)")
    ap.add_argument("--stall-seconds", type=float, default=20)
    ap.add_argument("--pause-after", type=float, default=1.0,
                    help="seconds to wait between targets (connections close, CPUs settle)")
    ap.add_argument("--json", help="append one JSON object per target run to this file")
    ap.add_argument("--header", action="store_true", help="print the summary header too")
    args = ap.parse_args()
    if args.summarize:
        summarize(args.summarize)
        return
    if not args.target:
        ap.error("--target is required")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if args.streams + 64 > hard:
        print(f"# warning: {args.streams} streams need more open files than the hard limit {hard}",
              file=sys.stderr)
    sys.exit(asyncio.run(main_async(args)))


if __name__ == "__main__":
    main()
