"""What one request may cost: its parameters, the models it loads, its frames, its time.

Most tests use the FastAPI test client and a fake detector; the memory test runs the
real ``unerkannt serve`` with the real models, the tile test the real detector.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from _service_server import start
from conftest import FACE_BOX, textured
from unerkannt.detect.fake import FakeDetector

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient

from unerkannt.service import ServiceConfig, create_app

BASE = "http://localhost"


def jpeg(array: np.ndarray | None = None) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(textured() if array is None else array).save(buf, "JPEG", quality=95)
    return buf.getvalue()


def gif_of(frames: int, size: int = 4) -> bytes:
    """A GIF of ``frames`` frames of ``size`` x ``size`` pixels, written block by block (fast)."""
    buf = io.BytesIO()
    Image.new("P", (size, size), 0).save(buf, "GIF")
    data = buf.getvalue()
    start = data.index(b"\x2c\x00\x00\x00\x00")  # the image descriptor
    control = b"\x21\xf9\x04\x00\x02\x00\x00\x00"  # a graphic control block: each copy is a frame
    return data[:start] + (control + data[start:-1]) * frames + b"\x3b"


@pytest.fixture
def temp_dir(tmp_path: Path) -> Path:
    path = tmp_path / "service-tmp"
    path.mkdir()
    return path


@pytest.fixture
def client(temp_dir: Path) -> Iterator[TestClient]:
    app = create_app(ServiceConfig(temp_dir=str(temp_dir)), detector=FakeDetector([FACE_BOX]))
    with TestClient(app, base_url=BASE) as c:
        yield c


class SlowDetector(FakeDetector):
    """Takes ``delay`` seconds per image; counts its calls."""

    def __init__(self, delay: float) -> None:
        super().__init__([FACE_BOX])
        self.delay = delay

    def detect(self, image: np.ndarray):  # type: ignore[no-untyped-def]
        time.sleep(self.delay)
        return super().detect(image)


# Item 6: parameters that would multiply the models, and models loaded once per process.


@pytest.mark.parametrize(
    "query",
    [
        "detector=centerface&detector=centerface",
        "detector=yunet&detector=centerface&detector=yunet",
        "method=fill&method=blur",
        "quality=90&quality=80",
        "enlarge=1.3&enlarge=1.3",
        "colour=red",
        "detectors=centerface",
    ],
)
def test_repeated_or_unknown_parameters_are_422(client: TestClient, query: str) -> None:
    r = client.post(f"/v1/protect?{query}", content=jpeg())
    assert r.status_code == 422, r.text
    assert r.json()["error"]["type"] == "usage"


def test_parameters_of_another_endpoint_are_unknown(client: TestClient) -> None:
    assert client.post("/v1/detect?method=blur", content=jpeg()).status_code == 422
    assert client.post("/v1/detect?keep_icc=true", content=jpeg()).status_code == 422
    # Meant to repeat: boxes, and distinct detectors.
    r = client.post("/v1/protect?boxes=1,1,9,9&boxes=20,20,30,30&detector=centerface&detector=yunet", content=jpeg())
    assert r.status_code == 200, r.text
    assert r.headers["x-unerkannt-faces"] == "3"


@pytest.mark.models
def test_models_load_once_per_process_and_threads_share_them(temp_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from unerkannt.detect import base
    from unerkannt.service.models import MODELS

    loaded: list[str] = []

    def counting(model, threads):  # type: ignore[no-untyped-def]
        loaded.append(type(model).__name__)
        return base.onnx_session(model, threads)

    monkeypatch.setattr("unerkannt.detect.centerface.onnx_session", counting)
    monkeypatch.setattr("unerkannt.detect.yunet.onnx_session", counting)
    MODELS.clear()
    photo = jpeg(textured(160, 120))
    queries = [
        f"threshold={t}&profile={p}&verify={v}" + d
        for t, p, v, d in [
            (0.1, "default", "true", ""),
            (0.2, "fast", "false", "&detector=yunet"),
            (0.3, "thorough", "true", "&detector=centerface&detector=yunet"),
            (0.4, "default", "false", ""),
            (0.15, "fast", "true", "&detector=yunet"),
            (0.25, "default", "true", ""),
        ]
    ]
    statuses: list[int] = []
    app = create_app(ServiceConfig(temp_dir=str(temp_dir), workers=2))
    with TestClient(app, base_url=BASE) as c:

        def client_thread(offset: int) -> None:
            for i in range(len(queries)):
                query = queries[(i + offset) % len(queries)]
                statuses.append(c.post(f"/v1/protect?{query}", content=photo).status_code)
                statuses.append(c.post(f"/v1/detect?threshold=0.{i + 1}", content=photo).status_code)

        threads = [threading.Thread(target=client_thread, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
    assert statuses == [200] * 48
    assert sorted(loaded) == ["bytes", "str"]  # CenterFace from its file, YuNet from its converted bytes


@pytest.mark.models
def test_memory_stays_bounded_over_many_requests_with_varied_options(tmp_path: Path) -> None:
    photo = jpeg(textured(320, 240))
    detectors = ["", "&detector=yunet", "&detector=centerface-int8", "&detector=centerface&detector=yunet"]
    with start(tmp_path, "--workers", "2") as server:
        for d in detectors:  # every model loads once
            status, _, body = server.request("POST", f"/v1/protect?verify=true{d}", photo)
            assert status == 200, body
        base = server.rss_mb()
        for i in range(48):
            query = f"threshold={0.05 + i * 0.015:.3f}&profile={('default', 'fast')[i % 2]}{detectors[i % 4]}"
            status, _, body = server.request(
                "POST", f"/v1/protect?{query}&verify={('true', 'false')[i % 3 == 0]}", photo
            )
            assert status == 200, body
        grown = server.rss_mb() - base
        assert grown < 60, f"the server grew by {grown:.0f} MB over 48 requests"
        # The request of the report: one model name repeated 150 times.
        status, _, _ = server.request("POST", "/v1/protect?" + "&".join(["detector=centerface"] * 150), photo)
        assert status == 422
        assert server.rss_mb() - base < 60


# Item 7: frames and work are limited before decoding; a timeout stops the work.


def test_frames_over_the_limit_are_refused_before_decoding(temp_dir: Path) -> None:
    """The GIF of the report: 20,000 frames of 4 x 4 pixels."""
    detector = SlowDetector(0.0)
    app = create_app(ServiceConfig(temp_dir=str(temp_dir), timeout=20), detector=detector)
    with TestClient(app, base_url=BASE) as c:
        started = time.monotonic()
        r = c.post("/v1/protect", content=gif_of(20_000), headers={"content-type": "image/gif"})
        assert r.status_code == 413, r.text
        assert "frames" in r.json()["error"]["message"]
        assert time.monotonic() - started < 5
        assert detector.calls == 0
        assert c.get("/v1/health").json()["busy"] == 0


def test_reader_honours_max_frames_before_decoding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from unerkannt.errors import ImageTooLargeError
    from unerkannt.media import read

    path = tmp_path / "many.gif"
    path.write_bytes(gif_of(300))
    decoded: list[int] = []
    to_rgb = read._to_rgb
    monkeypatch.setattr(read, "_to_rgb", lambda frame: decoded.append(1) or to_rgb(frame))
    with pytest.raises(ImageTooLargeError, match="300 frames"):
        read.read_image(path, max_pixels=10**9, max_frames=299)
    assert decoded == []
    assert len(read.read_image(path, max_pixels=10**9, max_frames=300).frames) == 300


def test_options_carry_a_frame_limit() -> None:
    from unerkannt import UsageError
    from unerkannt.options import ProtectOptions

    assert 100 <= ProtectOptions().max_frames <= 100_000
    with pytest.raises(UsageError):
        ProtectOptions(max_frames=0)


def test_tiny_frames_count_as_a_detector_run_each(temp_dir: Path) -> None:
    """Work is frames x max(pixels, the cost of one detector run): 300 frames of 8 x 8
    are far under a pixel limit of 1,000,000 but over that much work."""
    app = create_app(ServiceConfig(temp_dir=str(temp_dir), max_pixels=1_000_000), detector=FakeDetector())
    with TestClient(app, base_url=BASE) as c:
        r = c.post("/v1/protect", content=gif_of(300, size=8))
        assert r.status_code == 413, r.text
        assert c.post("/v1/protect", content=gif_of(20, size=8)).status_code == 200


def test_timeout_stops_the_work_between_frames_and_frees_the_slot(temp_dir: Path) -> None:
    detector = SlowDetector(0.05)
    app = create_app(ServiceConfig(temp_dir=str(temp_dir), timeout=0.5, workers=1, queue=0), detector=detector)
    with TestClient(app, base_url=BASE) as c:
        r = c.post("/v1/protect", content=gif_of(100, size=16))
        assert r.status_code == 503 and r.json()["error"]["type"] == "timeout"
        answered = time.monotonic()
        while c.get("/v1/health").json()["busy"] and time.monotonic() - answered < 5:
            time.sleep(0.01)
        assert time.monotonic() - answered < 1.0, "the slot was held after the timeout"
        calls = detector.calls
        time.sleep(0.3)
        assert detector.calls == calls, "the work went on after the timeout"
        assert calls < 40
        assert c.post("/v1/protect", content=jpeg()).status_code == 200


@pytest.mark.models
def test_timeout_stops_the_real_detector_between_tiles(temp_dir: Path) -> None:
    """A 35-megapixel photo is 20 tiles of detector work; the timeout stops it after the current one."""
    smooth = np.zeros((5000, 7000, 3), np.uint8)
    smooth[:, :, 0] = (np.arange(7000) // 7 % 256).astype(np.uint8)[None, :]
    smooth[:, :, 1] = (np.arange(5000) // 5 % 256).astype(np.uint8)[:, None]
    app = create_app(ServiceConfig(temp_dir=str(temp_dir), timeout=2.0, workers=1))
    with TestClient(app, base_url=BASE) as c:
        r = c.post("/v1/protect?verify=false", content=jpeg(smooth))
        assert r.status_code == 503 and r.json()["error"]["type"] == "timeout"
        answered = time.monotonic()
        while c.get("/v1/health").json()["busy"] and time.monotonic() - answered < 60:
            time.sleep(0.05)
        assert time.monotonic() - answered < 5, "the detector went on after the timeout"
