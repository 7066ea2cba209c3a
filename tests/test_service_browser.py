"""The web page end to end: a real uvicorn server and real headless Chromium (Debian's).

Playwright drives ``/usr/bin/chromium``; no browser is ever downloaded. The test
uploads the example photo, leaves one face visible, draws a box over a missed
one, downloads the result and checks its pixels.
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from unerkannt.detect import FaceDetector
from unerkannt.detect.fake import FakeDetector

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[1]
PHOTO = ROOT / "examples" / "astronaut.jpg"
#: The README's screenshot is refreshed only on request (tests never write into the tree):
#: UNERKANNT_SCREENSHOT=docs/screenshot.png python -m pytest tests/test_service_browser.py
SCREENSHOT = os.environ.get("UNERKANNT_SCREENSHOT")
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

FACE = (182.0, 58.0, 270.0, 178.0)  # the astronaut's face (CenterFace finds it here)
OTHER = (380.0, 300.0, 460.0, 380.0)  # a second "face" the user leaves visible
DRAWN = (40.0, 380.0, 120.0, 460.0)  # a box the user draws over a missed face

pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed"),
]
pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
sync_api = pytest.importorskip("playwright.sync_api")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[object]:
    """A function starting the service on a free loopback port; yields its base URL."""
    import uvicorn

    from unerkannt.service import ServiceConfig, create_app

    servers: list[tuple[uvicorn.Server, threading.Thread]] = []
    temp = tmp_path / "service-tmp"
    temp.mkdir()

    def start(detector: FaceDetector | None) -> str:
        port = free_port()
        # Sharing on, so that the page (and the README's screenshot) shows its Share button.
        shares = str(tmp_path / f"shares-{port}")
        config = ServiceConfig(port=port, temp_dir=str(temp), timeout=120, shares_dir=shares)
        app = create_app(config, detector=detector)
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="none"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the server did not start")
            time.sleep(0.05)
        servers.append((server, thread))
        return f"http://127.0.0.1:{port}"

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(10)
    assert list(temp.iterdir()) == []


@pytest.fixture
def browser_page(tmp_path: Path) -> Iterator[object]:
    with sync_api.sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=str(CHROMIUM),
            args=FLAGS,
            headless=True,
            accept_downloads=True,
            viewport={"width": 900, "height": 1000},
            locale="en-GB",
        )
        try:
            yield context.pages[0] if context.pages else context.new_page()
        finally:
            context.close()


def pixels(path: Path | bytes) -> np.ndarray:
    source = io.BytesIO(path) if isinstance(path, bytes) else path
    return np.asarray(Image.open(source).convert("RGB")).astype(int)


def inner(box: tuple[float, ...], margin: int = 12) -> tuple[slice, slice]:
    x1, y1, x2, y2 = (int(v) for v in box)
    return slice(y1 + margin, y2 - margin), slice(x1 + margin, x2 - margin)


def wait_ready(page) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_selector(".item .download[aria-disabled='false']", timeout=60_000)


def draw_box(page, box: tuple[float, ...]) -> None:  # type: ignore[no-untyped-def]
    """Drag a box with the mouse over the 512 x 512 example photo's overlay, in image pixels."""
    overlay = page.locator(".overlay").bounding_box()
    assert overlay is not None
    sx, sy = overlay["width"] / 512, overlay["height"] / 512
    page.mouse.move(overlay["x"] + box[0] * sx, overlay["y"] + box[1] * sy)
    page.mouse.down()
    page.mouse.move(overlay["x"] + box[2] * sx, overlay["y"] + box[3] * sy, steps=8)
    page.mouse.up()


def held_within(page, held: list[object], n: int, seconds: float = 30) -> None:  # type: ignore[no-untyped-def]
    """Let the page run until ``n`` requests are held (the route handler runs while it waits)."""
    deadline = time.monotonic() + seconds
    while len(held) < n:
        assert time.monotonic() < deadline, f"{n} requests were not sent"
        page.wait_for_timeout(20)


def test_a_box_drawn_while_an_answer_is_on_its_way_is_never_skipped(serve, browser_page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The answer to an earlier change that arrives after a box was drawn must not offer a download.

    The protect request made for a toggle is held; the user draws a box; then that request is
    answered. Its photo lacks the box, so the download must stay disabled until the answer
    that includes the box has come, and the file downloaded then must have the box filled.
    """
    page = browser_page
    base = serve(FakeDetector([FACE, OTHER]))
    held: list[object] = []
    holding = [False]

    def hold(route) -> None:  # type: ignore[no-untyped-def]
        if holding[0]:
            held.append(route)
        else:
            route.continue_()

    page.route("**/v1/protect*", hold)
    page.clock.install()  # the page's 250 ms wait before it sends a change runs when the test says
    page.goto(base + "/")
    page.select_option("#format", "png")
    page.set_input_files("#files", str(PHOTO))
    page.wait_for_selector(".face.protected >> nth=1")
    wait_ready(page)

    holding[0] = True
    now = page.evaluate("() => Date.now()") / 1000
    page.clock.pause_at(datetime.fromtimestamp(now + 1, tz=UTC))  # before any timer of the page is due
    page.locator(".face").nth(1).focus()
    page.keyboard.press("Enter")  # leave the second face visible
    page.clock.run_for(300)  # its protect request goes out, and is held
    held_within(page, held, 1)
    # Record whether the download is ever offered from here on.
    page.evaluate(
        """() => {
        const link = document.querySelector('.item .download');
        window.offered = false;
        new MutationObserver(() => { if (link.getAttribute('aria-disabled') === 'false') window.offered = true; })
          .observe(link, { attributes: true });
    }"""
    )
    draw_box(page, DRAWN)
    # The toggle's answer (without the drawn box) arrives before the page sends the drawn box:
    # the page's clock is paused, so its 250 ms wait has not run.
    held[0].continue_()  # type: ignore[attr-defined]
    for _ in range(60):  # give the page 3 s to take the answer in (the old page offered it here)
        page.wait_for_timeout(50)
        if page.evaluate("() => window.offered"):
            break
    page.clock.run_for(300)  # the request with the drawn box goes out, and is held in turn
    held_within(page, held, 2)
    assert page.evaluate("() => window.offered") is False, "the answer without the drawn box was offered"
    assert page.locator(".item .download").get_attribute("aria-disabled") == "true"

    page.clock.resume()
    holding[0] = False
    held[1].continue_()  # type: ignore[attr-defined]
    wait_ready(page)
    with page.expect_download() as info:
        page.click(".item .download")
    saved = tmp_path / "downloaded.png"
    info.value.save_as(saved)
    assert np.abs(pixels(saved)[inner(DRAWN)] - pixels(PHOTO)[inner(DRAWN)]).mean() > 30, "the drawn box was not filled"


def test_page_toggle_draw_download(serve, browser_page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    page = browser_page
    base = serve(FakeDetector([FACE, OTHER]))
    page.goto(base + "/")
    assert page.title() == "unerkannt"
    page.select_option("#format", "png")  # lossless, so untouched pixels compare exactly
    page.set_input_files("#files", str(PHOTO))
    page.wait_for_selector(".face.protected >> nth=1")
    wait_ready(page)
    faces = page.locator(".face")
    assert faces.count() == 2

    # Leave the second face visible, with the keyboard (focus + Enter).
    faces.nth(1).focus()
    page.keyboard.press("Enter")
    page.wait_for_selector(".face.visible")
    assert "visible" in page.locator(".warnings").inner_text().lower()

    # Draw a box over a face the detector missed.
    draw_box(page, DRAWN)
    page.wait_for_selector(".face.manual")
    wait_ready(page)

    with page.expect_download() as info:
        page.click(".item .download")
    download = info.value
    assert download.suggested_filename == "astronaut-unerkannt.png"
    saved = tmp_path / "downloaded.png"
    download.save_as(saved)

    before, after = pixels(PHOTO), pixels(saved)
    assert after.shape == before.shape
    assert np.abs(after[inner(FACE)] - before[inner(FACE)]).mean() > 30, "the face was not filled"
    assert np.abs(after[inner(DRAWN)] - before[inner(DRAWN)]).mean() > 30, "the drawn box was not filled"
    assert np.array_equal(after[inner(OTHER, 2)], before[inner(OTHER, 2)]), "the face left visible was changed"
    with Image.open(saved) as img:
        assert not img.info.get("exif") and not img.getexif()

    # German, for the screenshot of the README as well.
    page.select_option("#lang", "de")
    assert page.locator("#lang").evaluate("() => document.documentElement.lang") == "de"
    assert "Rahmen hinzufügen" in page.locator(".add-box").inner_text()
    page.select_option("#lang", "en")
    shot = tmp_path / "page.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000, "the page rendered nothing"
    if SCREENSHOT:
        shutil.copyfile(shot, SCREENSHOT)


def test_page_zip_for_many(serve, browser_page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import zipfile

    page = browser_page
    base = serve(FakeDetector([FACE]))
    page.goto(base + "/")
    second = tmp_path / "second.jpg"
    second.write_bytes(PHOTO.read_bytes())
    page.set_input_files("#files", [str(PHOTO), str(second)])
    page.wait_for_selector(".item >> nth=1")
    page.wait_for_function(
        "() => document.querySelectorAll(\".item .download[aria-disabled='false']\").length === 2", timeout=60_000
    )
    with page.expect_download() as info:
        page.click("#zip")
    saved = tmp_path / "all.zip"
    info.value.save_as(saved)
    with zipfile.ZipFile(saved) as archive:
        assert archive.testzip() is None
        names = sorted(archive.namelist())
        assert names == ["astronaut-unerkannt.jpg", "second-unerkannt.jpg"]
        data = archive.read(names[0])
    assert np.abs(pixels(data)[inner(FACE)] - pixels(PHOTO)[inner(FACE)]).mean() > 30


@pytest.mark.models
def test_page_with_the_real_detector(serve, browser_page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    page = browser_page
    page.goto(serve(None) + "/")
    page.set_input_files("#files", str(PHOTO))
    page.wait_for_selector(".face.protected", timeout=60_000)
    wait_ready(page)
    with page.expect_download() as info:
        page.click(".item .download")
    saved = tmp_path / "real.jpg"
    info.value.save_as(saved)
    assert np.abs(pixels(saved)[inner(FACE)] - pixels(PHOTO)[inner(FACE)]).mean() > 30


def test_a_photo_chosen_while_the_page_loads_its_settings_is_not_lost(serve, browser_page) -> None:  # type: ignore[no-untyped-def]
    # The page asks the server for its methods and limits when it opens; a file chosen
    # before the answer came was dropped (the handlers were attached after it), which made
    # a fast user, or a busy server, lose the photo.
    page = browser_page
    held = []
    page.route("**/v1/config", lambda route: held.append(route))
    page.goto(serve(FakeDetector([FACE])) + "/")
    for _ in range(200):
        if held:
            break
        page.wait_for_timeout(25)
    assert held, "the page did not ask for its settings"
    page.set_input_files("#files", str(PHOTO))
    page.wait_for_timeout(200)
    held[0].continue_()
    page.wait_for_selector(".item .download[aria-disabled='false']", timeout=20_000)


def test_page_is_usable_with_the_keyboard(serve, browser_page) -> None:  # type: ignore[no-untyped-def]
    page = browser_page
    page.goto(serve(FakeDetector([FACE])) + "/")
    for label in ("How faces are hidden", "File format", "Language"):
        assert page.get_by_label(label).count() == 1, label
    page.set_input_files("#files", str(PHOTO))
    wait_ready(page)
    page.locator(".add-box").focus()
    page.keyboard.press("Enter")
    box = page.locator(".face.manual")
    box.wait_for()
    assert page.evaluate("() => document.activeElement.classList.contains('manual')")
    x = float(box.get_attribute("x") or 0)
    page.keyboard.press("ArrowRight")
    assert float(page.locator(".face.manual").get_attribute("x") or 0) == x + 10
    wait_ready(page)
    page.locator(".face.manual").focus()
    page.keyboard.press("Delete")
    page.wait_for_selector(".face.manual", state="detached")
    wait_ready(page)
