"""Slow and many uploads against a real server process: they take no work slot, and
a body that is too slow is answered 408 and frees everything."""

from __future__ import annotations

import io
import socket
import time
from pathlib import Path

import pytest
from PIL import Image

from _service_server import LOOPBACK, Server, start
from conftest import textured

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")


def jpeg() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(textured()).save(buf, "JPEG", quality=95)
    return buf.getvalue()


def open_upload(server: Server, length: int, first: bytes = b"\xff") -> socket.socket:
    """A connection that announced a body of ``length`` bytes and sent ``first`` of it."""
    sock = socket.create_connection((LOOPBACK, server.port), timeout=30)
    head = (
        f"POST /v1/protect HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nContent-Type: image/jpeg\r\n"
        f"Content-Length: {length}\r\n\r\n"
    )
    sock.sendall(head.encode() + first)
    return sock


def status_of(sock: socket.socket) -> int:
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0


def test_slow_bodies_take_no_work_slot_and_get_408(tmp_path: Path) -> None:
    """The report: ten connections sending a byte a second made every request answer 503."""
    with start(tmp_path, "--workers", "2", "--queue", "8", fake_delay=0.0) as server:
        slow = [open_upload(server, 10_000) for _ in range(10)]
        started = time.monotonic()
        for second in range(3):
            time.sleep(1)
            for sock in slow:
                sock.sendall(b"\x00")
            if second == 1:
                status, _, body = server.request("POST", "/v1/protect", jpeg(), {"Content-Type": "image/jpeg"})
                assert status == 200, body
                assert server.health()["uploads"] == 10
        statuses = [status_of(sock) for sock in slow]
        assert statuses == [408] * 10
        assert time.monotonic() - started < 20
        for sock in slow:
            sock.close()
        server.wait_until(lambda: server.health()["uploads"] == 0 and server.health()["busy"] == 0)


def test_an_upload_past_its_time_gets_408(tmp_path: Path) -> None:
    """Fast enough by rate, but longer than --upload-timeout in all."""
    with start(tmp_path, "--upload-timeout", "1.5", "--min-upload-rate", "0.001", fake_delay=0.0) as server:
        sock = open_upload(server, 100_000)
        started = time.monotonic()
        sock.sendall(b"\x00" * 100)
        assert status_of(sock) == 408
        assert 1.2 < time.monotonic() - started < 5
        sock.close()


def test_concurrent_uploads_and_their_bytes_are_bounded(tmp_path: Path) -> None:
    with start(
        tmp_path, "--max-uploads", "2", "--max-upload-mb", "1", "--max-pending-mb", "1.5", fake_delay=0.0
    ) as server:
        first = open_upload(server, 900_000)
        server.wait_until(lambda: server.health()["uploads"] == 1)
        # Its bytes and this one's would pass 1.5 MB: refused at once, before the body.
        status, headers, _ = server.request("POST", "/v1/protect", b"\x00" * 700_000, {"Content-Type": "image/jpeg"})
        assert status == 503 and "retry-after" in headers
        second = open_upload(server, 1000)
        server.wait_until(lambda: server.health()["uploads"] == 2)
        status, headers, _ = server.request("POST", "/v1/protect", jpeg(), {"Content-Type": "image/jpeg"})
        assert status == 503 and "retry-after" in headers
        first.close()
        second.close()
        server.wait_until(lambda: server.health()["uploads"] == 0)
        # Their bytes were given back: 900 kB fit again (and are no image).
        status, _, _ = server.request("POST", "/v1/protect", b"\x00" * 900_000, {"Content-Type": "image/jpeg"})
        assert status == 415
        status, _, _ = server.request("POST", "/v1/protect", jpeg(), {"Content-Type": "image/jpeg"})
        assert status == 200
        # ... and no more than that: the budget is what it was at the start.
        with open_upload(server, 900_000):
            server.wait_until(lambda: server.health()["uploads"] == 1)
            status, _, _ = server.request("POST", "/v1/protect", b"\x00" * 700_000, {"Content-Type": "image/jpeg"})
            assert status == 503
