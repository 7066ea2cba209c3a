"""Shares end to end: a real ``unerkannt serve --shares DIR`` over real HTTP.

The server runs as a subprocess with a fake detector (``_service_server``; the models are
not the point here). Its clock can be moved forward by the test (a file of seconds to
add), so expiry is tested without waiting; a pause inside the store lets a test kill the
server in the middle of a share's write. What is checked is what a user and an attacker
would see: the answers, the files in the shares folder, the logs.
"""

from __future__ import annotations

import datetime
import io
import json
import math
import re
import secrets
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from _service_server import CLOCK, LOOPBACK, PAUSE, SWEEP, Server, start
from conftest import FACE_BOX, textured

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")

#: Stands for the GPS position in the original: must never reach the shares folder.
MARKER = b"unerkannt-test-gps-48.1374N-11.5755E"
#: The original's file name: never stored, never logged.
FILE_NAME = "erika-mustermann-at-the-party.jpg"
MAGIC = (b"\xff\xd8\xff", b"\x89PNG", b"GIF8", b"RIFF", b"II*\x00", b"MM\x00*", b"BM")


def original(width: int = 120, height: int = 80, seed: int = 0) -> bytes:
    """A JPEG whose comment carries :data:`MARKER` (as a photo carries its GPS position)."""
    buf = io.BytesIO()
    Image.fromarray(textured(width, height, seed)).save(buf, "JPEG", quality=95, comment=MARKER)
    data = buf.getvalue()
    assert MARKER in data
    return data


def form(file: bytes, fields: dict[str, str] | None = None, name: str = FILE_NAME) -> tuple[bytes, dict[str, str]]:
    """A multipart body with ``file`` and ``fields``, and its Content-Type header."""
    boundary = "unerkannt" + secrets.token_hex(8)
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in (fields or {}).items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        f"Content-Type: image/jpeg\r\n\r\n".encode()
        + file
        + b"\r\n"
    )
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), {
        "Content-Type": f"multipart/form-data; boundary={boundary}"
    }


@contextmanager
def sharing(tmp_path: Path, *args: str, env: dict[str, str] | None = None, name: str = "run") -> Iterator[Server]:
    """A server sharing into ``tmp_path/shares``, its clock moved by ``tmp_path/clock``."""
    temp = tmp_path / "tmp"
    temp.mkdir(exist_ok=True)
    environment = {CLOCK: str(tmp_path / "clock"), **(env or {})}
    with start(
        temp, "--shares", str(tmp_path / "shares"), *args, fake_delay=0.0, env=environment, log=tmp_path / f"{name}.log"
    ) as server:
        yield server


def move_clock(tmp_path: Path, seconds: float) -> None:
    (tmp_path / "clock").write_text(str(seconds))


def share(server: Server, data: bytes, query: str = "", token: str | None = None, **fields: str) -> dict[str, object]:
    body, headers = form(data, fields)
    if token:
        headers["Authorization"] = f"Bearer {token}"
    status, _, answer = server.request("POST", "/v1/shares" + query, body, headers)
    assert status == 201, answer
    made: dict[str, object] = json.loads(answer)
    return made


def link(made: dict[str, object]) -> tuple[str, str]:
    """The id and the key of a share's url."""
    match = re.fullmatch(r"/s/([A-Za-z0-9_-]{22})#([A-Za-z0-9_-]{43})", str(made["url"]))
    assert match, made["url"]
    return match.group(1), match.group(2)


def view(server: Server, share_id: str, key: str) -> tuple[int, dict[str, str], bytes]:
    return server.request("GET", f"/v1/shares/{share_id}", headers={"X-Unerkannt-Key": key})


def end(server: Server, share_id: str, token: str, auth: str | None = None) -> tuple[int, bytes]:
    headers = {"X-Unerkannt-Delete-Token": token}
    if auth:
        headers["Authorization"] = f"Bearer {auth}"
    status, _, body = server.request("DELETE", f"/v1/shares/{share_id}", headers=headers)
    return status, body


def folder_files(tmp_path: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(tmp_path / "shares")): p.read_bytes() for p in (tmp_path / "shares").rglob("*") if p.is_file()
    }


def blobs(tmp_path: Path) -> list[str]:
    return sorted(p.name for p in (tmp_path / "shares" / "blobs").iterdir())


def rows(tmp_path: Path) -> int:
    with sqlite3.connect(f"file:{tmp_path / 'shares' / 'index.sqlite'}?mode=ro", uri=True) as db:
        (n,) = db.execute("SELECT COUNT(*) FROM shares").fetchone()
    return int(n)


def pixels(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(int)


def face_filled(protected: bytes, before: bytes) -> bool:
    x1, y1, x2, y2 = (int(v) for v in FACE_BOX)
    inside = (slice(y1 + 5, y2 - 5), slice(x1 + 5, x2 - 5))
    return float(np.abs(pixels(protected)[inside] - pixels(before)[inside]).mean()) > 30


def entropy(data: bytes) -> float:
    counts = np.bincount(np.frombuffer(data, np.uint8), minlength=256)
    p = counts[counts > 0] / len(data)
    return float(-(p * np.log2(p)).sum())


GONE = 410


def test_a_share_is_the_protected_photo_and_ends_after_its_views(tmp_path: Path) -> None:
    data = original()
    with sharing(tmp_path) as server:
        made = share(server, data, expires_in="86400", max_views="2")
        share_id, key = link(made)
        expires = datetime.datetime.fromisoformat(str(made["expires_at"]).replace("Z", "+00:00"))
        assert abs((expires - datetime.datetime.now(datetime.UTC)).total_seconds() - 86400) < 60
        assert made["max_views"] == 2 and made["faces"] == 1 and made["format"] == "jpeg"
        assert len(str(made["delete_token"])) >= 43

        body, headers = form(data)
        status, _, protected = server.request("POST", "/v1/protect", body, headers)
        assert status == 200

        status, headers, first = view(server, share_id, key)
        assert status == 200, first
        assert first == protected, "the share is not the photo /v1/protect makes of the same upload"
        assert face_filled(first, data)
        assert MARKER not in first
        assert headers["content-type"] == "image/jpeg"
        assert headers["x-unerkannt-views-left"] == "1"
        assert headers["cache-control"] == "no-store" and headers["referrer-policy"] == "no-referrer"

        status, headers, second = view(server, share_id, key)
        assert (status, second, headers["x-unerkannt-views-left"]) == (200, first, "0")
        assert blobs(tmp_path) == [] and rows(tmp_path) == 0, "a share without views left was kept"
        status, _, _ = view(server, share_id, key)
        assert status == GONE

        page_status, page_headers, page = server.request("GET", f"/s/{share_id}")
        assert page_status == 200 and page_headers["content-type"].startswith("text/html")
        assert b"/static/share.js" in page


def test_default_terms_and_terms_as_query_parameters(tmp_path: Path) -> None:
    with sharing(tmp_path) as server:
        made = share(server, original())
        expires = datetime.datetime.fromisoformat(str(made["expires_at"]).replace("Z", "+00:00"))
        assert abs((expires - datetime.datetime.now(datetime.UTC)).total_seconds() - 7 * 86400) < 60
        assert made["max_views"] is None
        status, headers, _ = view(server, *link(made))
        assert (status, headers["x-unerkannt-views-left"]) == (200, "unlimited")

        made = share(server, original(), "?expires_in=3600&max_views=1&format=png")
        assert made["max_views"] == 1 and made["format"] == "png"
        status, headers, body = view(server, *link(made))
        assert status == 200 and body.startswith(b"\x89PNG") and headers["content-type"] == "image/png"


def race(server: Server, share_id: str, key: str, clients: int = 6) -> list[int]:
    """The statuses of ``clients`` views of a share, sent at the same moment."""
    barrier = threading.Barrier(clients)
    statuses: list[int] = []
    lock = threading.Lock()

    def get() -> None:
        barrier.wait()
        status, _, _ = view(server, share_id, key)
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=get) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return statuses


def test_two_views_at_once_of_a_one_view_share_one_gets_it(tmp_path: Path) -> None:
    with sharing(tmp_path) as server:
        for _ in range(4):
            assert Counter(race(server, *link(share(server, original(), max_views="1")))) == {200: 1, GONE: 5}
        assert blobs(tmp_path) == [] and rows(tmp_path) == 0


def test_an_expired_share_is_410_and_swept_without_being_asked_for(tmp_path: Path) -> None:
    with sharing(tmp_path, env={SWEEP: "0.2"}) as server:
        asked = link(share(server, original(seed=1), expires_in="3600"))
        left_alone = link(share(server, original(seed=2), expires_in="3600"))
        kept = link(share(server, original(seed=3), expires_in="7200"))
        assert view(server, *asked)[0] == 200
        move_clock(tmp_path, 3601)
        assert view(server, *asked)[0] == GONE
        server.wait_until(lambda: len(blobs(tmp_path)) == 1)
        assert blobs(tmp_path) == [kept[0]] and rows(tmp_path) == 1
        assert view(server, *left_alone)[0] == GONE
        assert view(server, *kept)[0] == 200
        move_clock(tmp_path, 7201)
        server.wait_until(lambda: blobs(tmp_path) == [])
        assert rows(tmp_path) == 0
        assert view(server, *kept)[0] == GONE
    leftover = {name for name in folder_files(tmp_path) if not name.startswith("index.sqlite")}
    assert leftover <= {"lock"}, leftover


def test_ending_a_share_needs_its_token_and_is_final(tmp_path: Path) -> None:
    with sharing(tmp_path) as server:
        made = share(server, original())
        share_id, key = link(made)
        token = str(made["delete_token"])
        assert end(server, share_id, "x" * 43)[0] == GONE
        assert end(server, share_id, token[:-1] + ("A" if token[-1] != "A" else "B"))[0] == GONE
        assert view(server, share_id, key)[0] == 200, "a wrong delete token ended the share"
        assert end(server, "A" * 22, token)[0] == GONE
        status, _ = end(server, share_id, token)
        assert status == 204
        assert blobs(tmp_path) == [] and rows(tmp_path) == 0
        assert view(server, share_id, key)[0] == GONE
        assert end(server, share_id, token)[0] == GONE


def test_a_wrong_key_is_answered_as_a_share_that_does_not_exist(tmp_path: Path) -> None:
    with sharing(tmp_path) as server:
        share_id, key = link(share(server, original(), max_views="1"))
        other = "B" * 43 if key != "B" * 43 else "C" * 43
        answers = {
            "wrong key": view(server, share_id, other),
            "key of another length": view(server, share_id, key[:-1]),
            "no such share": view(server, "A" * 22, key),
            "not an id": view(server, "not%20an%20id", key),
        }
        for what, (status, headers, body) in answers.items():
            assert (status, body) == (answers["no such share"][0], answers["no such share"][2]), what
            assert status == GONE and headers["content-type"] == "application/json"

        # Time: the wrong key on an existing share against a missing share, interleaved.
        missing = "Z" * 22
        wrong: list[float] = []
        absent: list[float] = []
        for _ in range(150):
            for sid, out in ((share_id, wrong), (missing, absent)):
                begin = time.perf_counter()
                assert view(server, sid, other)[0] == GONE
                out.append(time.perf_counter() - begin)
        difference = abs(statistics.median(wrong) - statistics.median(absent))
        spread = statistics.median(absent)
        assert difference < max(0.002, 0.25 * spread), (statistics.median(wrong), statistics.median(absent))

        status, _, _ = view(server, share_id, key)
        assert status == 200, "wrong keys used up the share's one view"


def test_a_share_survives_a_restart_and_a_kill_after_its_answer(tmp_path: Path) -> None:
    data = original()
    with sharing(tmp_path, name="first") as server:
        stopped = link(share(server, data))
        protected = view(server, *stopped)[2]
        assert server.stop(signal.SIGTERM) in (0, -signal.SIGTERM)
    with sharing(tmp_path, name="second") as server:
        assert view(server, *stopped)[2] == protected
        killed = link(share(server, original(seed=5)))
        server.stop(signal.SIGKILL)
    with sharing(tmp_path, name="third") as server:
        status, _, body = view(server, *killed)
        assert status == 200 and face_filled(body, original(seed=5)), "a confirmed share was lost in a crash"
        assert view(server, *stopped)[0] == 200


@pytest.mark.parametrize("moment", ["seal", "commit"])
def test_a_crash_during_a_share_write_leaves_no_half_share(tmp_path: Path, moment: str) -> None:
    done = tmp_path / "pause"
    done.mkdir()
    with sharing(tmp_path, name="first") as server:
        earlier = link(share(server, original(seed=7)))
    body, headers = form(original(), {"expires_in": "3600"})
    with sharing(tmp_path, env={PAUSE: f"{moment}:{done}"}, name="crashing") as server:
        sock = socket.create_connection((LOOPBACK, server.port), timeout=30)
        head = f"POST /v1/shares HTTP/1.1\r\nHost: {LOOPBACK}:{server.port}\r\nContent-Length: {len(body)}\r\n"
        head += f"Content-Type: {headers['Content-Type']}\r\n\r\n"
        sock.sendall(head.encode() + body)
        server.wait_until(lambda: (done / "paused").exists())
        half = [name for name in blobs(tmp_path) if name != earlier[0]]
        assert len(half) == 1, "the write under way is not on disk: the test would prove nothing"
        if moment == "seal":
            assert half[0].startswith(".part-")
        assert rows(tmp_path) == 1, "a share was listed before its file was complete"
        server.stop(signal.SIGKILL)
        sock.close()
    assert blobs(tmp_path) == sorted([earlier[0], *half])
    with sharing(tmp_path, name="after") as server:
        assert blobs(tmp_path) == [earlier[0]], "the half share was not removed at the start"
        assert rows(tmp_path) == 1
        assert view(server, *earlier)[0] == 200
        if moment == "commit":
            assert view(server, half[0], "A" * 43)[0] == GONE
        assert server.health()["status"] == "ok"


def test_a_request_that_times_out_makes_no_share(tmp_path: Path) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    with start(temp, "--shares", str(tmp_path / "shares"), "--timeout", "1", fake_delay=2.0) as server:
        body, headers = form(original())
        status, _, _ = server.request("POST", "/v1/shares", body, headers)
        assert status == 503
        time.sleep(3)  # the job ends at its next check and must not make the share then
        assert blobs(tmp_path) == [] and rows(tmp_path) == 0


def noise_png(seed: int) -> bytes:
    """A PNG of random pixels: about 190 kB however it is compressed."""
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (240, 260, 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def test_a_full_folder_is_507_and_has_room_again_after_an_end(tmp_path: Path) -> None:
    with sharing(tmp_path, "--shares-max-mb", "0.7", name="roomy") as server:
        made = [share(server, noise_png(i)) for i in range(3)]
        body, headers = form(noise_png(9))
        status, _, answer = server.request("POST", "/v1/shares", body, headers)
        assert status == 507, answer
        assert "full" in json.loads(answer)["error"]["message"]
        assert rows(tmp_path) == 3
        assert sum(len(b) for b in folder_files(tmp_path).values()) <= 700_000

        share_id, _ = link(made[0])
        assert end(server, share_id, str(made[0]["delete_token"]))[0] == 204
        share(server, noise_png(9))

    # Over the limit already (it was lowered): refused before the upload is read, so the
    # answer comes to a body that is announced and never sent.
    with sharing(tmp_path, "--shares-max-mb", "0.3", name="full") as server:
        with socket.create_connection((LOOPBACK, server.port), timeout=10) as sock:
            sock.sendall(
                f"POST /v1/shares HTTP/1.1\r\nHost: {LOOPBACK}:{server.port}\r\nContent-Type: image/png\r\n"
                f"Content-Length: 5000000\r\n\r\n".encode()
            )
            assert sock.recv(200).startswith(b"HTTP/1.1 507")
        assert rows(tmp_path) == 3


def test_the_folder_holds_only_ciphertext(tmp_path: Path) -> None:
    data = original(240, 160)
    with sharing(tmp_path, name="rest") as server:
        made = [share(server, data, "?format=png", expires_in="3600"), share(server, data, expires_in="3600")]
        photos = [view(server, *link(m))[2] for m in made]
        keys = [link(m)[1] for m in made]
        tokens = [str(m["delete_token"]) for m in made]
        files = folder_files(tmp_path)
    everything = b"".join(files.values())
    assert photos[0].startswith(b"\x89PNG") and photos[1].startswith(b"\xff\xd8\xff")
    sealed = [files[f"blobs/{link(m)[0]}"] for m in made]
    for blob, photo in zip(sealed, photos, strict=True):
        assert not blob.startswith(MAGIC), "a sealed file starts like an image"
        assert entropy(blob) > 7.9, entropy(blob)
        assert len(blob) > len(photo)
        for start_at in range(0, len(photo) - 16, 16):  # no 16-byte piece of the photo anywhere
            assert photo[start_at : start_at + 16] not in everything, f"bytes {start_at}.. of the photo are at rest"
    for start_at in range(0, len(data) - 16, 16):  # nor of the original upload
        assert data[start_at : start_at + 16] not in everything, f"bytes {start_at}.. of the original are at rest"
    for secret in [MARKER, FILE_NAME.encode(), *(k.encode() for k in keys), *(t.encode() for t in tokens)]:
        assert secret not in everything, secret
    log = (tmp_path / "rest.log").read_bytes()
    for secret in [FILE_NAME.encode(), *(k.encode() for k in keys), *(t.encode() for t in tokens)]:
        assert secret not in log, "the log holds a key, a token or the file name"
    assert b"/v1/shares" in log, "the log was not captured: the test would prove nothing"


def test_viewing_needs_no_token_creating_and_ending_do(tmp_path: Path) -> None:
    token = secrets.token_hex(16)
    with sharing(tmp_path, "--token", token) as server:
        body, headers = form(original())
        assert server.request("POST", "/v1/shares", body, headers)[0] == 401
        made = share(server, original(), token=token)
        share_id, key = link(made)
        status, _, page = server.request("GET", f"/s/{share_id}")
        assert status == 200 and b"share.js" in page
        for asset in ("/static/share.js", "/static/app.css"):
            assert server.request("GET", asset)[0] == 200, asset
        assert view(server, share_id, key)[0] == 200
        for path in ("/", "/static/app.js", "/v1/config", "/v1/rights"):
            assert server.request("GET", path)[0] == 401, path
        assert end(server, share_id, str(made["delete_token"]))[0] == 401
        assert view(server, share_id, key)[0] == 200
        assert end(server, share_id, str(made["delete_token"]), auth=token)[0] == 204


def test_without_the_option_there_is_no_sharing(tmp_path: Path) -> None:
    with start(tmp_path, fake_delay=0.0) as server:
        body, headers = form(original())
        assert server.request("POST", "/v1/shares", body, headers)[0] == 404
        assert server.request("GET", "/s/" + "A" * 22)[0] == 404
        assert view(server, "A" * 22, "A" * 43)[0] == 404
        assert server.request("DELETE", "/v1/shares/" + "A" * 22)[0] == 404
        status, _, config = server.request("GET", "/v1/config")
        assert status == 200 and json.loads(config)["shares"] is None


def run_serve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "unerkannt", "serve", "--port", "0", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_folder_of_other_files_and_a_folder_in_use_are_refused(tmp_path: Path) -> None:
    foreign = tmp_path / "documents"
    foreign.mkdir()
    (foreign / "letter.txt").write_text("mine")
    done = run_serve("--shares", str(foreign))
    assert done.returncode == 2 and "other files" in done.stderr
    assert [p.name for p in foreign.iterdir()] == ["letter.txt"]
    assert run_serve("--shares-max-mb", "5").returncode == 2

    with sharing(tmp_path) as server:
        assert server.health()["status"] == "ok"
        done = run_serve("--shares", str(tmp_path / "shares"))
        assert done.returncode == 2 and "another server" in done.stderr
        assert server.health()["status"] == "ok"


def test_sealed_size_grows_with_the_photo_only(tmp_path: Path) -> None:
    """What a copy of the folder tells about a photo: its size to within a few bytes, no more."""
    from unerkannt.service.sealing import SEGMENT, sealed_size

    with sharing(tmp_path) as server:
        for data in (original(), noise_png(1)):
            made = share(server, data, "?format=png")
            photo = view(server, *link(made))[2]
            blob = (tmp_path / "shares" / "blobs" / link(made)[0]).read_bytes()
            assert len(blob) == sealed_size(len(photo))
            assert len(blob) - len(photo) == 256 + 16 * math.ceil(len(photo) / SEGMENT)
