"""The pieces of shares without a server: the sealed format, the store with a clock the test
moves, and the checks of ``POST /v1/shares`` through FastAPI's test client."""

from __future__ import annotations

import io
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from conftest import FACE_BOX, textured
from unerkannt.detect.fake import FakeDetector

pytest.importorskip("fastapi")
pytest.importorskip("cryptography")
from fastapi.testclient import TestClient

from unerkannt import UsageError
from unerkannt.service import ServiceConfig, create_app
from unerkannt.service.errors import ServiceError
from unerkannt.service.sealing import SEGMENT, Broken, Meta, Opened, seal, sealed_size, verifier
from unerkannt.service.shares import ShareStore, unb64

KEY = bytes(range(32))
ID = "AAAAAAAAAAAAAAAAAAAAAA"


def sealed(data: bytes, key: bytes = KEY, share_id: str = ID) -> bytes:
    out = io.BytesIO()
    written = seal(out, data, key=key, share_id=share_id, meta=Meta(format="png", size=len(data)))
    assert written == len(out.getvalue()) == sealed_size(len(data))
    return out.getvalue()


def unsealed(path: Path, key: bytes = KEY, share_id: str = ID) -> tuple[Meta, bytes]:
    opened = Opened(path.open("rb"), key=key, share_id=share_id)
    return opened.meta, b"".join(opened.chunks())


@pytest.mark.parametrize("size", [1, SEGMENT - 1, SEGMENT, SEGMENT + 1, 3 * SEGMENT + 5])
def test_sealed_files_open_again_at_every_size(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    path = tmp_path / "blob"
    path.write_bytes(sealed(data))
    assert unsealed(path) == (Meta(format="png", size=size), data)


def test_a_changed_cut_reordered_or_renamed_file_does_not_open(tmp_path: Path) -> None:
    data = os.urandom(2 * SEGMENT + 100)
    blob = sealed(data)
    path = tmp_path / "blob"
    seg = SEGMENT + 16
    meta = 256
    cases = {
        "a bit of the metadata": blob[:10] + bytes([blob[10] ^ 1]) + blob[11:],
        "a bit of the photo": blob[: meta + 500] + bytes([blob[meta + 500] ^ 1]) + blob[meta + 501 :],
        "the last segment cut off": blob[: meta + 2 * seg],
        "two segments swapped": blob[:meta]
        + blob[meta + seg : meta + 2 * seg]
        + blob[meta : meta + seg]
        + blob[meta + 2 * seg :],
        "a byte more": blob + b"\x00",
    }
    for what, changed in cases.items():
        path.write_bytes(changed)
        with pytest.raises(Broken):
            unsealed(path)
        assert what
    path.write_bytes(blob)
    with pytest.raises(Broken):
        unsealed(path, share_id="B" * 22)
    with pytest.raises(Broken):
        unsealed(path, key=bytes(32))
    assert unsealed(path)[1] == data


def test_the_verifier_depends_on_key_and_id_and_is_not_the_key() -> None:
    v = verifier(KEY, ID)
    assert len(v) == 32 and v != KEY
    assert v != verifier(KEY, "B" * 22) and v != verifier(bytes(32), ID)
    assert v == verifier(KEY, ID)


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(tmp_path: Path) -> Iterator[tuple[ShareStore, Clock]]:
    clock = Clock()
    opened = ShareStore(tmp_path / "shares", max_bytes=10_000_000, clock=clock)
    yield opened, clock
    opened.close()


def test_the_store_counts_views_expires_and_ends(store: tuple[ShareStore, Clock], tmp_path: Path) -> None:
    shares, clock = store
    a = shares.create(b"photo-a" * 100, format="png", expires_in=3600, max_views=None)
    b = shares.create(b"photo-b" * 100, format="png", expires_in=60, max_views=None)
    assert "key" not in repr(a) and a.key not in repr(a) and a.delete_token not in repr(a)
    assert b"".join(shares.view(a.id, a.key).chunks()) == b"photo-a" * 100
    clock.now += 61
    with pytest.raises(ServiceError) as gone:
        shares.view(b.id, b.key)
    assert gone.value.status == 410
    assert not (shares.blobs / b.id).exists(), "an expired share was kept after it was asked for"
    clock.now += 3600
    assert shares.sweep() == 1 and shares.count() == 0
    assert list(shares.blobs.iterdir()) == []


def test_a_sealed_file_that_was_changed_is_gone_not_an_error(
    store: tuple[ShareStore, Clock], caplog: pytest.LogCaptureFixture
) -> None:
    shares, _ = store
    made = shares.create(os.urandom(1000), format="png", expires_in=3600, max_views=3)
    path = shares.blobs / made.id
    blob = bytearray(path.read_bytes())
    blob[5] ^= 1
    path.write_bytes(bytes(blob))
    with pytest.raises(ServiceError) as gone:
        shares.view(made.id, made.key)
    assert gone.value.status == 410
    assert shares.count() == 0 and not path.exists()
    assert "does not open" in caplog.text


def test_the_store_refuses_other_folders_and_a_second_user(tmp_path: Path) -> None:
    foreign = tmp_path / "home"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="other files"):
        ShareStore(foreign, max_bytes=1000)
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]
    first = ShareStore(tmp_path / "shares", max_bytes=1000)
    try:
        with pytest.raises(UsageError, match="another server"):
            ShareStore(tmp_path / "shares", max_bytes=1000)
    finally:
        first.close()
    ShareStore(tmp_path / "shares", max_bytes=1000).close()
    assert oct((tmp_path / "shares").stat().st_mode & 0o777) == "0o700"


def test_link_keys_are_exactly_43_url_safe_characters() -> None:
    assert unb64("A" * 43) == bytes(32)
    for bad in ("A" * 42, "A" * 44, "A" * 42 + "=", "A" * 42 + "/", "", "Ä" * 43):
        assert unb64(bad) is None


def jpeg() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(textured()).save(buf, "JPEG", quality=95)
    return buf.getvalue()


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    temp = tmp_path / "tmp"
    temp.mkdir()
    config = ServiceConfig(temp_dir=str(temp), shares_dir=str(tmp_path / "shares"), max_upload_bytes=200_000)
    with TestClient(create_app(config, detector=FakeDetector([FACE_BOX])), base_url="http://localhost") as c:
        yield c
    assert list(temp.iterdir()) == []
    assert list((tmp_path / "shares" / "blobs").iterdir()) == [], "a refused request left a share"


@pytest.mark.parametrize(
    ("query", "fields", "words"),
    [
        ("?colour=red", {}, "unknown parameter"),
        ("?enlarge=9", {}, "enlarge"),
        ("?method=swirl", {}, "swirl"),
        ("", {"expires_in": "59"}, "expires_in"),
        ("", {"expires_in": str(90 * 86400 + 1)}, "expires_in"),
        ("", {"expires_in": "a week"}, "whole number"),
        ("?expires_in=3600", {"expires_in": "3600"}, "more than once"),
        ("", {"max_views": "0"}, "max_views"),
        ("?max_views=0", {}, "max_views"),
        ("", {"title": "party"}, "unknown form field"),
        ("?expires_in=10", {}, "expires_in"),
    ],
)
def test_bad_terms_and_options_are_422_and_make_nothing(
    client: TestClient, query: str, fields: dict[str, str], words: str
) -> None:
    r = client.post("/v1/shares" + query, files={"file": ("p.jpg", jpeg(), "image/jpeg")}, data=fields)
    assert r.status_code == 422, r.text
    assert words in r.json()["error"]["message"]


def test_a_field_given_twice_or_too_many_fields_are_422(client: TestClient) -> None:
    r = client.post(
        "/v1/shares",
        files=[("file", ("p.jpg", jpeg(), "image/jpeg")), ("max_views", (None, "2")), ("max_views", (None, "3"))],
    )
    assert r.status_code == 422 and "more than once" in r.text
    many = [("file", ("p.jpg", jpeg(), "image/jpeg"))] + [(f"f{i}", (None, "x")) for i in range(20)]
    r = client.post("/v1/shares", files=many)
    assert r.status_code == 422 and "16 fields" in r.text


def test_the_upload_limits_of_protect_apply(client: TestClient) -> None:
    r = client.post("/v1/shares", files={"file": ("p.jpg", b"\xff" * 300_000, "image/jpeg")})
    assert r.status_code == 413
    r = client.post("/v1/shares", files={"file": ("p.txt", b"not an image", "text/plain")})
    assert r.status_code == 415


def test_a_share_answers_201_and_is_documented(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="unerkannt")
    r = client.post("/v1/shares", files={"file": ("Anna-at-home.jpg", jpeg(), "image/jpeg")})
    assert r.status_code == 201, r.text
    made = r.json()
    key = made["url"].split("#")[1]
    assert key not in caplog.text and made["delete_token"] not in caplog.text and "Anna" not in caplog.text
    doc = client.get("/openapi.json").json()
    assert {"post"} <= set(doc["paths"]["/v1/shares"]) and {"get", "delete"} <= set(
        doc["paths"]["/v1/shares/{share_id}"]
    )
    assert "507" in doc["paths"]["/v1/shares"]["post"]["responses"]
    assert client.get("/v1/config").json()["shares"]["max_expires_in"] == 90 * 86400
    ended = client.delete(f"/v1/shares/{made['id']}", headers={"X-Unerkannt-Delete-Token": made["delete_token"]})
    assert ended.status_code == 204


def test_every_file_of_the_folder_is_its_owners_only(store: tuple[ShareStore, Clock]) -> None:
    shares, _ = store
    shares.create(b"photo" * 100, format="png", expires_in=3600, max_views=2)
    modes = {p.name: p.stat().st_mode & 0o777 for p in shares.folder.rglob("*")}
    assert {"index.sqlite", "index.sqlite-wal", "lock", "blobs"} <= set(modes)
    assert all(mode == (0o700 if name == "blobs" else 0o600) for name, mode in modes.items()), modes
