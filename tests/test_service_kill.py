"""A server stopped or killed while it holds uploads leaves none of them on disk.

Real server processes (a fake detector that takes a second per frame, so that work is
in progress when the signal comes); the upload carries a marker standing for its GPS
position, and every file under the temporary folder is searched for its bytes afterwards.
"""

from __future__ import annotations

import io
import signal
import socket
import time
from pathlib import Path

import pytest
from PIL import Image

from _service_server import LOOPBACK, Server, start
from conftest import textured

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

#: Stands for the GPS position of the upload: found in any file that holds the upload.
MARKER = b"unerkannt-test-gps-52.5200N-13.4050E"


def original() -> bytes:
    """A 4-frame GIF (four seconds of fake detector work) whose comment blocks carry the marker."""
    buf = io.BytesIO()
    frames = [Image.fromarray(textured(seed=i)) for i in range(4)]
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], comment=MARKER * 4)
    return buf.getvalue()


def files_with_marker(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and MARKER in p.read_bytes()]


def named_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


def half_upload(server: Server, body: bytes) -> socket.socket:
    """A connection that sent the headers and half of ``body``, and waits."""
    sock = socket.create_connection((LOOPBACK, server.port), timeout=30)
    head = (
        f"POST /v1/protect HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nContent-Type: image/gif\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    sock.sendall(head.encode() + body[: len(body) // 2])
    return sock


def full_upload(server: Server, body: bytes) -> socket.socket:
    sock = socket.create_connection((LOOPBACK, server.port), timeout=30)
    head = (
        f"POST /v1/protect HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nContent-Type: image/gif\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    sock.sendall(head.encode() + body)
    return sock


def answer_or_closed(sock: socket.socket) -> int:
    """The status the server answered with, or 0 when it closed the connection without one."""
    try:
        data = sock.recv(4096)
    except OSError:
        return 0
    return int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0


def in_flight(server: Server) -> tuple[socket.socket, socket.socket]:
    body = original()
    assert MARKER in body
    working = full_upload(server, body)
    server.wait_until(lambda: server.health()["busy"] == 1)
    uploading = half_upload(server, body)
    server.wait_until(lambda: server.health()["uploads"] == 1)
    return working, uploading


def test_term_stops_at_once_answers_and_removes_everything(tmp_path: Path) -> None:
    with start(tmp_path, "--timeout", "120", fake_delay=1.0) as server:
        working, uploading = in_flight(server)
        stopped = time.monotonic()
        assert server.stop(signal.SIGTERM, timeout=15) in (0, -signal.SIGTERM)
        assert time.monotonic() - stopped < 10, "in-flight requests held the server"
        with working, uploading:
            assert answer_or_closed(working) in (0, 503)
            assert answer_or_closed(uploading) in (0, 503)
    assert named_files(tmp_path) == []
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("moment", ["upload", "work"])
def test_kill_9_leaves_no_upload_on_disk_and_the_next_start_removes_the_dead_folder(
    tmp_path: Path, moment: str
) -> None:
    with start(tmp_path, fake_delay=1.0) as live:
        live_folders = set(tmp_path.iterdir())
        assert live.health()["busy"] == 0
        with start(tmp_path, "--timeout", "120", fake_delay=1.0) as victim:
            victim_folders = set(tmp_path.iterdir()) - live_folders
            working, uploading = in_flight(victim)
            if moment == "upload":
                uploading.sendall(original()[len(original()) // 2 : -10])  # all but the last bytes
                time.sleep(0.3)
            victim.stop(signal.SIGKILL)
            working.close()
            uploading.close()
        assert files_with_marker(tmp_path) == []
        assert [p for p in named_files(tmp_path) if p.name != "lock"] == []
        with start(tmp_path, fake_delay=1.0) as restarted:
            assert restarted.health()["busy"] == 0
            remaining = set(tmp_path.iterdir())
            assert victim_folders and not victim_folders & remaining, "the dead server's folder was kept"
            assert live_folders <= remaining, "a live server's folder was removed"
            assert live.health()["busy"] == 0
