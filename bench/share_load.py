#!/usr/bin/env python3
"""Load test of shares (``unerkannt serve --shares DIR``): N clients sharing and viewing.

Starts the real server (real models) as a subprocess on a free loopback port with a fresh
shares folder, warms it up with one share (models load), then runs ``--clients`` threads
for ``--seconds``. Each client loops: share a photo of ``--images`` (``POST /v1/shares``,
multipart, ``expires_in=3600``, ``max_views=--views``), view it ``--views`` times
(``GET /v1/shares/{id}`` with the key; each must be 200 and the same bytes), then once
more (must be 410: the views are used up); every other share is instead ended with
``DELETE`` after its first view (must be 204, then 410). After a 503 a client waits
``--backoff`` seconds. Anything else is counted as unexpected (the target is 0).

Prints a markdown table row per operation (count, per second, p50 and p99 latency of the
expected answers), the 503s, the unexpected answers, the shares folder's size (peak while
running, sampled every 0.2 s, and at the end), the server's CPU time (user + system) per
share made, and its peak memory (VmHWM).

Usage (repository root, venv active)::

    python bench/share_load.py                       # 8 clients, 30 s, 2 views per share
    python bench/share_load.py --clients 8 --views 10 --seconds 30
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve_load import IMAGES, LOOPBACK, cpu_seconds, free_port, peak_rss_mb, percentile


def request(
    port: int, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes, float]:
    start = time.perf_counter()
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=120)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        return response.status, data, time.perf_counter() - start
    finally:
        conn.close()


def share_form(photo: bytes, views: int) -> tuple[bytes, dict[str, str]]:
    boundary = "bench" + secrets.token_hex(8)
    fields = {"expires_in": "3600", "max_views": str(views)}
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="upload"\r\n'
        f"Content-Type: image/jpeg\r\n\r\n".encode()
        + photo
        + b"\r\n"
    )
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def folder_bytes(folder: Path) -> int:
    total = 0
    for path in folder.rglob("*"):
        try:
            if path.is_file():
                total += path.stat().st_size
        except OSError:  # removed while being counted
            pass
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=Path, default=IMAGES)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--views", type=int, default=2, help="views per share (max_views)")
    parser.add_argument("--workers", type=int, default=2, help="server --workers")
    parser.add_argument("--queue", type=int, default=8, help="server --queue")
    parser.add_argument("--backoff", type=float, default=0.2, help="seconds a client waits after a 503")
    args = parser.parse_args()
    files = sorted(p for p in args.images.iterdir() if p.suffix.lower() in (".jpg", ".jpeg"))
    if not files:
        print(f"no images in {args.images}", file=sys.stderr)
        return 2
    photos = [p.read_bytes() for p in files]
    folder = Path(tempfile.mkdtemp(prefix="unerkannt-share-bench-")) / "shares"
    port = free_port()
    cmd = [
        sys.executable, "-m", "unerkannt", "serve", "--host", LOOPBACK, "--port", str(port),
        "--workers", str(args.workers), "--queue", str(args.queue), "--timeout", "60",
        "--shares", str(folder), "--shares-max-mb", "5000",
    ]  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "UNERKANNT_TOKEN"}
    server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    latencies: dict[str, list[float]] = defaultdict(list)
    busy = 0
    unexpected: list[str] = []
    lock = threading.Lock()
    peak_folder = 0
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                body, headers = share_form(photos[0], 1)
                status, _, _ = request(port, "POST", "/v1/shares", body, headers)  # warm-up: the models load
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    print("the server did not start", file=sys.stderr)
                    return 1
                time.sleep(0.2)
        if status != 201:
            print(f"warm-up answered {status}", file=sys.stderr)
            return 1
        counter = itertools.count()
        stop_at = time.monotonic() + args.seconds

        def expect(op: str, status: int, wanted: int, seconds: float) -> bool:
            with lock:
                if status == wanted:
                    latencies[op].append(seconds)
                    return True
                unexpected.append(f"{op} {status}")
                return False

        def client() -> None:
            nonlocal busy
            while time.monotonic() < stop_at:
                n = next(counter)
                body, headers = share_form(photos[n % len(photos)], args.views)
                try:
                    status, answer, seconds = request(port, "POST", "/v1/shares", body, headers)
                    if status == 503:
                        with lock:
                            busy += 1
                        time.sleep(args.backoff)
                        continue
                    if not expect("share", status, 201, seconds):
                        continue
                    made = json.loads(answer)
                    share_id, key = made["url"].removeprefix("/s/").split("#")
                    key_header = {"X-Unerkannt-Key": key}
                    first = None
                    ending = n % 2 == 1 and args.views > 1
                    for _ in range(1 if ending else args.views):
                        status, photo, seconds = request(port, "GET", f"/v1/shares/{share_id}", headers=key_header)
                        if expect("view", status, 200, seconds):
                            first = first or photo
                            if photo != first:
                                with lock:
                                    unexpected.append("view: other bytes")
                    if ending:
                        status, _, seconds = request(
                            port,
                            "DELETE",
                            f"/v1/shares/{share_id}",
                            headers={"X-Unerkannt-Delete-Token": made["delete_token"]},
                        )
                        expect("end", status, 204, seconds)
                    status, _, seconds = request(port, "GET", f"/v1/shares/{share_id}", headers=key_header)
                    expect("view after the end (410)", status, 410, seconds)
                except OSError as exc:
                    with lock:
                        unexpected.append(type(exc).__name__)

        def sample() -> None:
            nonlocal peak_folder
            while time.monotonic() < stop_at:
                peak_folder = max(peak_folder, folder_bytes(folder))
                time.sleep(0.2)

        load_before = os.getloadavg()[0]
        cpu_before = cpu_seconds(server.pid)
        start = time.monotonic()
        threads = [threading.Thread(target=client) for _ in range(args.clients)] + [threading.Thread(target=sample)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.monotonic() - start
        cpu = cpu_seconds(server.pid) - cpu_before
        rss = peak_rss_mb(server.pid)
        load_after = os.getloadavg()[0]
        final_folder = folder_bytes(folder)
    finally:
        server.terminate()
        server.wait(20)
        shutil.rmtree(folder.parent, ignore_errors=True)
    made_count = len(latencies["share"])
    print(f"{args.clients} clients, {args.views} view(s) per share, workers + queue {args.workers} + {args.queue}, "
          f"{wall:.1f} s")  # fmt: skip
    print()
    print("| operation | answered as expected | per second | p50 ms | p99 ms |")
    print("|---|---:|---:|---:|---:|")
    for op in ("share", "view", "end", "view after the end (410)"):
        values = latencies[op]
        print(
            f"| {op} | {len(values)} | {len(values) / wall:.1f} | {percentile(values, 50) * 1000:.0f} "
            f"| {percentile(values, 99) * 1000:.0f} |"
        )
    print()
    print(
        f"503: {busy}; unexpected: {len(unexpected)}; shares folder: peak {peak_folder / 1e6:.2f} MB, "
        f"at the end {final_folder / 1e6:.2f} MB; server CPU per share made (with its views): "
        f"{cpu / max(1, made_count) * 1000:.0f} ms; peak RSS {rss:.0f} MB"
    )
    if unexpected:
        print(f"unexpected: {sorted(set(unexpected))[:10]}", file=sys.stderr)
    print(f"load average (1 min) before / after: {load_before:.2f} / {load_after:.2f} on {os.cpu_count()} cores")
    return 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
