"""Who may use the service: the token, other origins, other host names; and the
security headers on every answer, errors and 500s included."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from _service_server import free_port, start
from conftest import textured
from unerkannt.detect.fake import FakeDetector

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
from fastapi.testclient import TestClient

from unerkannt.service import ServiceConfig, create_app

HEADERS = ("content-security-policy", "x-content-type-options", "x-frame-options", "cache-control", "referrer-policy")


def jpeg() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(textured()).save(buf, "JPEG", quality=95)
    return buf.getvalue()


def has_security_headers(headers: dict[str, str]) -> bool:
    return all(name in headers for name in HEADERS)


@pytest.mark.parametrize("how", ["option", "environment"])
def test_an_empty_token_is_a_usage_error_not_an_open_server(tmp_path: Path, how: str) -> None:
    args = ["--token", ""] if how == "option" else []
    env = {k: v for k, v in os.environ.items() if k != "UNERKANNT_TOKEN"}
    if how == "environment":
        env["UNERKANNT_TOKEN"] = ""
    cmd = [sys.executable, "-m", "unerkannt", "serve", "--port", str(free_port()), *args]
    try:
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=30, cwd=tmp_path)
    except subprocess.TimeoutExpired:
        pytest.fail("the server started without authentication")
    assert done.returncode == 2
    assert "token" in done.stderr


def test_a_boundary_over_256_characters_is_4xx_with_the_security_headers(tmp_path: Path) -> None:
    boundary = "b" * 300
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n'
            f"Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + jpeg()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    with start(tmp_path, fake_delay=0.0) as server:
        status, headers, answer = server.request(
            "POST", "/v1/protect", body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        )
    assert 400 <= status < 500, answer
    assert has_security_headers(headers)


class Broken(FakeDetector):
    def detect(self, image: np.ndarray):  # type: ignore[no-untyped-def]
        raise RuntimeError("not one of ours")


def test_a_500_carries_the_security_headers(tmp_path: Path) -> None:
    app = create_app(ServiceConfig(temp_dir=str(tmp_path)), detector=Broken())
    with TestClient(app, base_url="http://localhost", raise_server_exceptions=False) as c:
        r = c.post("/v1/protect", content=jpeg())
    assert r.status_code == 500
    assert r.json()["error"]["type"] == "internal"
    assert has_security_headers({k.lower(): v for k, v in r.headers.items()})


def test_requests_from_other_sites_are_refused_unless_allowed(tmp_path: Path) -> None:
    with start(tmp_path, "--cors-origin", "https://photos.example", fake_delay=0.0) as server:
        own = f"http://127.0.0.1:{server.port}"

        def post(**headers: str) -> int:
            status, answer_headers, _ = server.request(
                "POST", "/v1/protect", jpeg(), {"Content-Type": "image/jpeg", **headers}
            )
            assert has_security_headers(answer_headers)
            return status

        assert post(Origin="https://evil.example") == 403
        assert post(Origin="null") == 403
        assert post(Origin=f"http://localhost:{server.port + 1}") == 403  # another local page
        assert post(**{"Sec-Fetch-Site": "cross-site"}) == 403
        assert post(**{"Sec-Fetch-Site": "same-site"}) == 403
        assert post(Origin=own, **{"Sec-Fetch-Site": "same-origin"}) == 200
        assert post(Origin="https://photos.example", **{"Sec-Fetch-Site": "cross-site"}) == 200
        assert post() == 200  # curl, scripts: no browser headers
        # Reading is not changing: the page's own GETs from elsewhere get no CORS, not a refusal.
        status, headers, _ = server.request("GET", "/v1/config", headers={"Origin": "https://evil.example"})
        assert status == 200 and "access-control-allow-origin" not in headers


def test_host_names_other_than_the_servers_are_refused(tmp_path: Path) -> None:
    """DNS rebinding: a page at evil.example resolves its own name to 127.0.0.1 and
    calls the service as a same-origin page: the Host header gives it away."""
    with start(tmp_path, "--allowed-host", "photos.lan", fake_delay=0.0) as server:
        for host in ("evil.example", f"evil.example:{server.port}", "127.0.0.1.nip.io", "localhost.evil.example"):
            status, headers, _ = server.request("GET", "/v1/config", headers={"Host": host})
            assert status == 400, host
            assert has_security_headers(headers)
            status, _, _ = server.request("POST", "/v1/protect", jpeg(), {"Host": host, "Content-Type": "image/jpeg"})
            assert status == 400, host
        for host in (f"127.0.0.1:{server.port}", f"localhost:{server.port}", "localhost", "photos.lan:80", "[::1]"):
            status, _, _ = server.request("GET", "/v1/config", headers={"Host": host})
            assert status == 200, host
