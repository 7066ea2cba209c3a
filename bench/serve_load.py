#!/usr/bin/env python3
"""Load test of ``unerkannt serve``: N concurrent clients posting photos for M seconds.

Starts the server as a subprocess on a free loopback port (loopback only: the
script refuses any other host), warms it up with one request (models load), then
runs ``--clients`` threads that each post photos from ``--images`` to
``/v1/protect`` one after another until ``--seconds`` have passed or
``--max-requests`` were sent; after a 503 a client waits ``--backoff`` seconds
(a client that honours ``Retry-After`` would wait longer). Prints one markdown row per run: requests/s
(answered 200), p50 and p99 latency of the 200s, 503 answers (overload, expected
when clients outnumber workers + queue), unexpected errors (anything else; the
target is 0), the server's CPU time (user + system) per image answered, which other
processes on the machine disturb less than the rates, and its peak memory (VmHWM).

``--vary-options`` gives each request other options (threshold, profile, detectors),
which once made the server build models per option set; the peak memory shows
whether it still grows with them.

``--slow-clients N`` adds N connections that send their body a byte a second for
the whole run (an attack that once made every request answer 503): the table then
also tells how those were answered (408 expected, once they fall below the minimum
upload rate) while the normal clients go on being served.

Usage (repository root, venv active)::

    python bench/serve_load.py                                   # 4 clients, 30 s
    python bench/serve_load.py --clients 8 --queue 2 --seconds 20
    python bench/serve_load.py --clients 4 --slow-clients 10
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import os
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT.parent / "shared" / "bench" / "detect" / "images"
LOOPBACK = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


#: ``--vary-options``: detector sets and profiles that requests cycle through.
VARIED_DETECTORS = ("", "&detector=yunet", "&detector=centerface-int8", "&detector=centerface&detector=yunet")


def varied_query(n: int) -> str:
    """Options of request ``n`` with ``--vary-options``: a new threshold every time for 40 requests."""
    profile = ("default", "fast")[n % 2]
    return f"?threshold={0.05 + (n % 40) * 0.01:.2f}&profile={profile}{VARIED_DETECTORS[n % len(VARIED_DETECTORS)]}"


def post(port: int, body: bytes, timeout: float, query: str = "") -> tuple[int, float]:
    start = time.perf_counter()
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=timeout)
    try:
        conn.request("POST", "/v1/protect" + query, body=body, headers={"Content-Type": "image/jpeg"})
        response = conn.getresponse()
        response.read()
        return response.status, time.perf_counter() - start
    finally:
        conn.close()


def trickle(port: int, stop_at: float, answers: list[int], lock: threading.Lock) -> None:
    """One slow client: a byte a second of a 100 kB body until answered or the run ends."""
    sock = socket.create_connection((LOOPBACK, port), timeout=1)
    head = f"POST /v1/protect HTTP/1.1\r\nHost: {LOOPBACK}:{port}\r\nContent-Type: image/jpeg\r\n"
    sock.sendall(f"{head}Content-Length: 100000\r\n\r\n".encode())
    status = 0
    try:
        while time.monotonic() < stop_at:
            try:
                sock.sendall(b"\xff")
                data = sock.recv(64)
            except TimeoutError:
                continue  # no answer yet: the next byte
            except OSError:
                break
            if data.startswith(b"HTTP/"):
                status = int(data.split(b" ", 2)[1])
            break
    finally:
        sock.close()
    with lock:
        answers.append(status)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` (all its threads), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=Path, default=IMAGES)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--max-requests", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=2, help="server --workers")
    parser.add_argument("--queue", type=int, default=8, help="server --queue")
    parser.add_argument("--backoff", type=float, default=0.2, help="seconds a client waits after a 503 (0.2)")
    parser.add_argument("--slow-clients", type=int, default=0, help="connections sending a byte a second (0)")
    parser.add_argument(
        "--vary-options", action="store_true", help="each request another threshold, profile and detector set"
    )
    args = parser.parse_args()
    files = sorted(p for p in args.images.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if not files:
        print(f"no images in {args.images}", file=sys.stderr)
        return 2
    bodies = [p.read_bytes() for p in files]
    port = free_port()
    cmd = [
        sys.executable, "-m", "unerkannt", "serve", "--host", LOOPBACK, "--port", str(port),
        "--workers", str(args.workers), "--queue", str(args.queue), "--timeout", "60",
    ]  # fmt: skip
    env = dict(os.environ)
    env.pop("UNERKANNT_TOKEN", None)
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                status, _ = post(port, bodies[0], 60)  # also the warm-up: the models load here
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    print("the server did not start", file=sys.stderr)
                    return 1
                time.sleep(0.2)
        if status != 200:
            print(f"warm-up answered {status}", file=sys.stderr)
            return 1
        counter = itertools.count()
        lock = threading.Lock()
        ok: list[float] = []
        busy = 0
        unexpected: list[str] = []
        stop_at = time.monotonic() + args.seconds

        def client() -> None:
            nonlocal busy
            while time.monotonic() < stop_at:
                n = next(counter)
                if n >= args.max_requests:
                    return
                try:
                    query = varied_query(n) if args.vary_options else ""
                    status, seconds = post(port, bodies[n % len(bodies)], 90, query)
                except OSError as exc:
                    with lock:
                        unexpected.append(type(exc).__name__)
                    continue
                with lock:
                    if status == 200:
                        ok.append(seconds)
                    elif status == 503:
                        busy += 1
                    else:
                        unexpected.append(str(status))
                if status == 503:
                    time.sleep(args.backoff)

        slow_answers: list[int] = []
        load_before = os.getloadavg()[0]
        cpu_before = cpu_seconds(server.pid)
        start = time.monotonic()
        threads = [
            threading.Thread(target=trickle, args=(port, stop_at, slow_answers, lock)) for _ in range(args.slow_clients)
        ]
        threads += [threading.Thread(target=client) for _ in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.monotonic() - start
        cpu = cpu_seconds(server.pid) - cpu_before
        rss = peak_rss_mb(server.pid)
        load_after = os.getloadavg()[0]
    finally:
        server.terminate()
        server.wait(10)
    print(
        "| clients | slow clients | workers + queue | seconds | requests | 200/s | p50 ms | p99 ms | 503 "
        "| unexpected | slow answered 408 | server CPU ms per 200 | peak RSS MB |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {args.clients} | {args.slow_clients} | {args.workers} + {args.queue} | {wall:.1f} "
        f"| {len(ok) + busy + len(unexpected)} | {len(ok) / wall:.1f} | {percentile(ok, 50) * 1000:.0f} "
        f"| {percentile(ok, 99) * 1000:.0f} | {busy} | {len(unexpected)} "
        f"| {sum(s == 408 for s in slow_answers)} of {len(slow_answers)} | {cpu / max(1, len(ok)) * 1000:.0f} "
        f"| {rss:.0f} |"
    )
    if unexpected:
        print(f"unexpected: {sorted(set(unexpected))}", file=sys.stderr)
    if ok:
        print(f"images: {len(files)} from {args.images}; median latency {statistics.median(ok) * 1000:.0f} ms")
    # Other processes on the machine slow every figure down: the load says how busy it was.
    print(f"load average (1 min) before / after: {load_before:.2f} / {load_after:.2f} on {os.cpu_count()} cores")
    return 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
