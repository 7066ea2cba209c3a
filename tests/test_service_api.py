"""The HTTP API through FastAPI's test client: answers, limits, errors, token, nothing kept."""

from __future__ import annotations

import io
import json
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from conftest import FACE_BOX, textured
from unerkannt.detect.fake import FakeDetector

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient

from unerkannt.service import ServiceConfig, create_app


def jpeg(array: np.ndarray | None = None, **save: object) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(textured() if array is None else array).save(buf, "JPEG", quality=95, **save)
    return buf.getvalue()


@pytest.fixture
def temp_dir(tmp_path: Path) -> Path:
    path = tmp_path / "service-tmp"
    path.mkdir()
    return path


@pytest.fixture
def client(temp_dir: Path) -> Iterator[TestClient]:
    app = create_app(ServiceConfig(temp_dir=str(temp_dir)), detector=FakeDetector([FACE_BOX]))
    with TestClient(app, base_url="http://localhost") as c:
        yield c
    assert list(temp_dir.iterdir()) == []


def png(array: np.ndarray | None = None) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(textured() if array is None else array).save(buf, "PNG")
    return buf.getvalue()


def decoded(data: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(int)


def changed(before: np.ndarray, after: np.ndarray, box: tuple[float, ...]) -> float:
    x1, y1, x2, y2 = (int(v) for v in box)
    return float(np.abs(before[y1:y2, x1:x2] - after[y1:y2, x1:x2]).mean())


def test_protect_multipart_fills_the_face_and_strips_metadata(client: TestClient) -> None:
    exif = Image.Exif()
    exif[0x010F] = "CameraMaker"
    source = jpeg(exif=exif.tobytes())
    r = client.post("/v1/protect", files={"file": ("party.jpg", source, "image/jpeg")})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/jpeg"
    assert r.headers["x-unerkannt-faces"] == "1"
    assert r.headers["x-unerkannt-weak"] == "false"
    assert "party" not in r.headers["content-disposition"]
    assert b"CameraMaker" not in r.content and b"Exif" not in r.content
    lossless = png()
    r = client.post("/v1/protect", files={"file": ("party.png", lossless, "image/png")})
    assert r.headers["content-type"] == "image/png"
    assert changed(decoded(lossless), decoded(r.content), FACE_BOX) > 20
    assert changed(decoded(lossless), decoded(r.content), (0, 0, 30, 80)) == 0


def test_protect_raw_body_and_output_format(client: TestClient) -> None:
    r = client.post("/v1/protect?format=png&method=pixelate", content=jpeg(), headers={"content-type": "image/jpeg"})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png"
    assert r.content.startswith(b"\x89PNG")
    assert r.headers["x-unerkannt-weak"] == "true"


def test_only_the_given_boxes_when_detect_is_false(client: TestClient) -> None:
    """The page leaves a face visible on purpose: detect=false, only the boxes it sends."""
    source = png()
    other = (5.0, 5.0, 30.0, 30.0)
    r = client.post("/v1/protect", params={"detect": "false", "boxes": "5,5,30,30"}, content=source)
    assert r.status_code == 200, r.text
    assert r.headers["x-unerkannt-faces"] == "1"
    assert changed(decoded(source), decoded(r.content), other) > 20
    assert changed(decoded(source), decoded(r.content), (60, 40, 80, 60)) == 0  # left visible, verification off


def test_boxes_are_added_to_detected_faces(client: TestClient) -> None:
    r = client.post("/v1/protect", params=[("boxes", "5,5,30,30"), ("boxes", "90,50,110,75")], content=jpeg())
    assert r.status_code == 200
    assert r.headers["x-unerkannt-faces"] == "3"


def test_detect_lists_faces(client: TestClient) -> None:
    r = client.post("/v1/detect", files={"file": ("a.jpg", jpeg(), "image/jpeg")})
    assert r.status_code == 200
    body = r.json()
    assert (body["width"], body["height"], body["frames"], body["format"]) == (120, 80, 1, "jpeg")
    assert body["faces"] == [{"box": list(FACE_BOX), "score": 0.9, "detector": "fake", "frame": 0}]


def test_page_and_assets_are_served_without_a_cdn(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "http://" not in page.text and "https://" not in page.text
    for asset in ("/static/app.js", "/static/app.css"):
        r = client.get(asset)
        assert r.status_code == 200
        assert "https://" not in r.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert client.get("/v1/config").json()["methods"][0] == {"name": "fill", "weak": False}


@pytest.mark.parametrize(
    ("body", "ctype", "status", "code"),
    [
        (b"just some text, not an image", "application/octet-stream", 415, "unsupported-format"),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 40, "image/jpeg", 422, "corrupt"),
        (b"", "image/jpeg", 422, "corrupt"),
        (b"{}", "application/json", 415, "unsupported-media-type"),
    ],
)
def test_bad_input_is_a_client_error(client: TestClient, body: bytes, ctype: str, status: int, code: str) -> None:
    for path in ("/v1/protect", "/v1/detect"):
        r = client.post(path, content=body, headers={"content-type": ctype})
        assert r.status_code == status, r.text
        assert r.json()["error"]["type"] == code


@pytest.mark.parametrize(
    "query",
    [
        "enlarge=9",
        "enlarge=abc",
        "method=melt",
        "quality=0",
        "format=xcf",
        "threshold=2",
        "profile=slow",
        "detector=nope",
        "boxes=1,2,3",
        "boxes=5,5,1,1",
        "boxes=nan,1,2,3",
        "boxes=500,500,600,600",
        "detect=perhaps",
    ],
)
def test_malformed_options_are_422(client: TestClient, query: str) -> None:
    r = client.post(f"/v1/protect?{query}", content=jpeg())
    assert r.status_code == 422, r.text
    assert r.json()["error"]["type"] == "usage"


def test_multipart_without_a_file_part_is_422(client: TestClient) -> None:
    r = client.post("/v1/protect", data={"other": "x"}, files={"notfile": ("a.jpg", jpeg(), "image/jpeg")})
    assert r.status_code == 422
    r = client.post("/v1/protect", content=b"--x\r\nbroken", headers={"content-type": "multipart/form-data"})
    assert r.status_code == 422


def test_upload_size_limit_is_413(temp_dir: Path) -> None:
    app = create_app(ServiceConfig(temp_dir=str(temp_dir), max_upload_bytes=1000), detector=FakeDetector())
    with TestClient(app, base_url="http://localhost") as c:
        r = c.post("/v1/protect", content=jpeg())
        assert r.status_code == 413 and r.json()["error"]["type"] == "too-large"
        r = c.post("/v1/protect", files={"file": ("a.jpg", jpeg(), "image/jpeg")})
        assert r.status_code == 413

        def chunks() -> Iterator[bytes]:  # no Content-Length: the stream itself is counted
            yield jpeg()

        r = c.post("/v1/protect", content=chunks())
        assert r.status_code == 413
    assert list(temp_dir.iterdir()) == []


def test_pixel_limit_is_413(temp_dir: Path) -> None:
    app = create_app(ServiceConfig(temp_dir=str(temp_dir), max_pixels=5000), detector=FakeDetector())
    with TestClient(app, base_url="http://localhost") as c:
        r = c.post("/v1/protect", content=jpeg())
        assert r.status_code == 413 and r.json()["error"]["type"] == "too-large"
        assert c.post("/v1/detect", content=jpeg()).status_code == 413
    assert list(temp_dir.iterdir()) == []


class BlockingDetector(FakeDetector):
    def __init__(self) -> None:
        super().__init__([FACE_BOX])
        self.entered = threading.Event()
        self.release = threading.Event()

    def detect(self, image: np.ndarray):  # type: ignore[no-untyped-def]
        self.entered.set()
        self.release.wait(10)
        return super().detect(image)


def test_full_pool_is_503_with_retry_after(temp_dir: Path) -> None:
    detector = BlockingDetector()
    app = create_app(ServiceConfig(temp_dir=str(temp_dir), workers=1, queue=0, retry_after=3), detector=detector)
    with TestClient(app, base_url="http://localhost") as c:
        first: dict[str, int] = {}
        worker = threading.Thread(target=lambda: first.update(status=c.post("/v1/protect", content=jpeg()).status_code))
        worker.start()
        assert detector.entered.wait(10)
        r = c.post("/v1/protect", content=jpeg())
        assert r.status_code == 503
        assert r.headers["retry-after"] == "3"
        assert r.json()["error"]["type"] == "busy"
        detector.release.set()
        worker.join(10)
        assert first["status"] == 200
        assert c.post("/v1/protect", content=jpeg()).status_code == 200
    assert list(temp_dir.iterdir()) == []


def test_request_timeout_is_503_and_cleans_up(temp_dir: Path) -> None:
    detector = BlockingDetector()
    app = create_app(ServiceConfig(temp_dir=str(temp_dir), timeout=0.3), detector=detector)
    with TestClient(app, base_url="http://localhost") as c:
        r = c.post("/v1/protect", content=jpeg())
        assert r.status_code == 503 and r.json()["error"]["type"] == "timeout"
        assert "retry-after" in r.headers
        detector.release.set()
        deadline = time.monotonic() + 5
        while app.state.service.pool.busy and time.monotonic() < deadline:
            time.sleep(0.02)
        assert app.state.service.pool.busy == 0
    assert list(temp_dir.iterdir()) == []


def test_detector_failure_is_a_500_without_an_image(temp_dir: Path) -> None:
    app = create_app(ServiceConfig(temp_dir=str(temp_dir)), detector=FakeDetector(fail=True))
    with TestClient(app, base_url="http://localhost") as c:
        r = c.post("/v1/protect", content=jpeg())
        assert r.status_code == 500
        assert r.headers["content-type"] == "application/json"
        assert r.json()["error"]["type"] == "detection"
    assert list(temp_dir.iterdir()) == []


def test_token_is_required_on_every_request(temp_dir: Path) -> None:
    app = create_app(ServiceConfig(temp_dir=str(temp_dir), token="s3cret"), detector=FakeDetector([FACE_BOX]))
    with TestClient(app, base_url="http://localhost") as c:
        for method, path in (
            ("GET", "/"),
            ("GET", "/openapi.json"),
            ("GET", "/static/app.js"),
            ("POST", "/v1/protect"),
        ):
            r = c.request(method, path, content=jpeg() if method == "POST" else None)
            assert r.status_code == 401, path
            assert r.json()["error"]["type"] == "unauthorized"
        wrong = c.post("/v1/protect", content=jpeg(), headers={"authorization": "Bearer nope"})
        assert wrong.status_code == 401
        ok = c.post("/v1/protect", content=jpeg(), headers={"authorization": "Bearer s3cret"})
        assert ok.status_code == 200
        assert c.get("/", auth=("anyone", "s3cret")).status_code == 200  # how a browser sends it


def test_no_cors_unless_configured(temp_dir: Path) -> None:
    headers = {"origin": "https://example.org", "access-control-request-method": "POST"}
    app = create_app(ServiceConfig(temp_dir=str(temp_dir)), detector=FakeDetector())
    with TestClient(app, base_url="http://localhost") as c:
        r = c.options("/v1/protect", headers=headers)
        assert "access-control-allow-origin" not in r.headers
    app = create_app(
        ServiceConfig(temp_dir=str(temp_dir), cors_origins=("https://example.org",)), detector=FakeDetector()
    )
    with TestClient(app, base_url="http://localhost") as c:
        r = c.options("/v1/protect", headers=headers)
        assert r.headers["access-control-allow-origin"] == "https://example.org"


def test_logs_tell_sizes_and_faces_never_names_or_pixels(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="unerkannt")
    r = client.post("/v1/protect", files={"file": ("secret-name-Anna.jpg", jpeg(), "image/jpeg")})
    assert r.status_code == 200
    text = "\n".join(rec.getMessage() for rec in caplog.records)
    assert "1 face(s)" in text and "bytes" in text and "120x80" in text
    assert "Anna" not in text and "secret-name" not in text


def test_openapi_documents_both_endpoints_with_examples(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    protect = doc["paths"]["/v1/protect"]["post"]
    assert {"multipart/form-data", "application/octet-stream"} <= set(protect["requestBody"]["content"])
    assert {"413", "415", "422", "503"} <= set(protect["responses"])
    assert "example" in protect["responses"]["415"]["content"]["application/json"]
    assert "/v1/detect" in doc["paths"]
    assert json.dumps(doc).count("example") >= 5


def test_config_validates() -> None:
    from unerkannt import UsageError

    with pytest.raises(UsageError):
        ServiceConfig(workers=0)
    with pytest.raises(UsageError):
        ServiceConfig(token=" ")
    assert "s3cret" not in repr(ServiceConfig(token="s3cret"))


def test_serve_is_a_cli_command() -> None:
    from unerkannt.cli import _parser

    args = _parser().parse_args(["serve", "--port", "0", "--token", "t"])
    assert (args.host, args.port, args.token) == ("127.0.0.1", 0, "t")


@pytest.mark.models
def test_audit_protects_then_checks_with_recognizers(temp_dir: Path) -> None:
    photo = (Path(__file__).resolve().parents[1] / "examples" / "astronaut.jpg").read_bytes()
    app = create_app(ServiceConfig(temp_dir=str(temp_dir)))
    with TestClient(app, base_url="http://localhost") as c:
        r = c.post("/v1/audit", content=photo)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["ok"] is True and body["hidden"] >= 1
        assert len(body["faces"]) == 1 and not body["faces"][0]["reidentifiable"]
        assert {s["recognizer"] for s in body["faces"][0]["scores"]} == {"sface", "dlib"}
        # Every face left visible on purpose: the audit says it is still findable.
        r = c.post("/v1/audit", params={"detect": "false"}, content=photo)
        assert r.status_code == 200, r.text
        assert r.json()["ok"] is False and r.json()["hidden"] == 0
        assert c.post("/v1/audit", content=b"not an image").status_code == 415
    assert list(temp_dir.iterdir()) == []
