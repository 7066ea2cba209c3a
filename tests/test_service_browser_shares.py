"""The page's Share button and "Your rights" in real headless Chromium (Debian's), against a
real uvicorn server: click, choose, copy the link, open it as someone without the page and
see the photo; write a letter, copy it, download it."""

from __future__ import annotations

import datetime
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from test_service_browser import CHROMIUM, FACE, FLAGS, PHOTO, free_port, inner, pixels, wait_ready
from unerkannt.detect.fake import FakeDetector

pytestmark = [pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")]
pytest.importorskip("uvicorn")
sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture
def base(tmp_path: Path) -> Iterator[str]:
    """A server with sharing on, on a free loopback port; its base URL."""
    import uvicorn

    from unerkannt.service import ServiceConfig, create_app

    temp = tmp_path / "service-tmp"
    temp.mkdir()
    port = free_port()
    config = ServiceConfig(port=port, temp_dir=str(temp), timeout=120, shares_dir=str(tmp_path / "shares"))
    app = create_app(config, detector=FakeDetector([FACE]))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="none"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)
    assert list(temp.iterdir()) == []


@pytest.fixture
def browser(tmp_path: Path, base: str) -> Iterator[Any]:
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
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
        try:
            yield context
        finally:
            context.close()


def watch(page: Any, base: str) -> list[str]:
    """Every URL the page asks for that is not on ``base`` (nothing may go anywhere else)."""
    elsewhere: list[str] = []
    page.on("request", lambda r: None if r.url.startswith((base + "/", "blob:", "data:")) else elsewhere.append(r.url))
    return elsewhere


def test_share_button_makes_a_link_that_shows_the_photo_and_ends(browser: Any, base: str, tmp_path: Path) -> None:
    page = browser.pages[0] if browser.pages else browser.new_page()
    elsewhere = watch(page, base)
    page.goto(base + "/")
    page.select_option("#format", "png")
    page.set_input_files("#files", str(PHOTO))
    wait_ready(page)

    share = page.get_by_role("button", name="Share")
    share.focus()
    page.keyboard.press("Enter")
    assert share.get_attribute("aria-expanded") == "true"
    assert page.evaluate("() => document.activeElement.classList.contains('share-expiry')")
    page.get_by_label("The link ends after").select_option(label="1 day")
    page.get_by_label("or earlier, after this many views:").check()
    page.get_by_label("Views", exact=True).fill("2")
    page.get_by_role("button", name="Create link").click()
    field = page.get_by_label("Link", exact=True)
    page.wait_for_function("() => document.querySelector('.share-link').value.includes('#')", timeout=60_000)
    link = field.input_value()
    assert link.startswith(base + "/s/") and len(link.split("#")[1]) == 43
    assert "2 view(s)" in page.locator(".share-state").inner_text()
    page.get_by_role("button", name="Copy link").click()
    page.wait_for_function("() => document.querySelector('.share-state').textContent.includes('copied')")
    assert page.evaluate("() => navigator.clipboard.readText()") == link

    # Someone with the link only: a fresh page; the photo shows, protected, and can be saved.
    viewer = browser.new_page()
    viewer_elsewhere = watch(viewer, base)
    viewer.goto(link)
    viewer.wait_for_selector("#photo[src^='blob:']", timeout=30_000)
    assert viewer.evaluate("() => document.getElementById('photo').naturalWidth") == 512
    assert "Views left after this one: 1" in viewer.locator("#terms").inner_text()
    with viewer.expect_download() as info:
        viewer.click("#download")
    saved = tmp_path / "shared.png"
    info.value.save_as(saved)
    before, after = pixels(PHOTO), pixels(saved)
    assert np.abs(after[inner(FACE)] - before[inner(FACE)]).mean() > 30, "the shared face is not filled"
    viewer.reload()
    viewer.wait_for_selector("#photo[src^='blob:']")
    assert "last view" in viewer.locator("#terms").inner_text()
    viewer.reload()
    viewer.wait_for_function("() => document.getElementById('status').textContent.includes('no longer available')")
    assert viewer.locator("#shown").is_hidden()

    # A second link, ended from the page at once.
    page.get_by_role("button", name="Create link").click()
    page.wait_for_function(f"() => document.querySelector('.share-link').value !== {link!r}", timeout=60_000)
    second = field.input_value()
    page.get_by_role("button", name="End it now").click()
    page.wait_for_function("() => document.querySelector('.share-state').textContent.includes('ended')")
    viewer.goto(second)
    viewer.wait_for_function("() => document.getElementById('status').textContent.includes('no longer available')")
    assert not list((tmp_path / "shares" / "blobs").iterdir()), "a share is left on the server"

    page.select_option("#lang", "de")
    assert page.get_by_role("button", name="Teilen").count() == 1
    assert elsewhere == [] and viewer_elsewhere == []


def test_rights_section_writes_the_letter_of_the_library(browser: Any, base: str, tmp_path: Path) -> None:
    from unerkannt.rights import LetterOptions, Sender, compose

    page = browser.pages[0] if browser.pages else browser.new_page()
    elsewhere = watch(page, base)
    page.goto(base + "/")
    page.wait_for_selector("#r-to option[value='pimeyes']", state="attached")
    page.get_by_label("What do you want?").select_option("erasure")
    page.get_by_label("Company", exact=True).select_option(label="PimEyes")
    assert page.locator("#r-other").is_hidden()
    page.get_by_label("Your name").fill("Erika Mustermann")
    page.get_by_label("Your e-mail address (for the answer)").fill("erika@example.org")
    page.get_by_label("Write the letter in").select_option("de")
    page.get_by_role("button", name="Write the letter").click()
    page.wait_for_selector("#r-result:not([hidden])", timeout=30_000)
    text = page.locator("#r-text").input_value()
    expected = compose(
        "erasure",
        to="pimeyes",
        sender=Sender(name="Erika Mustermann", email="erika@example.org"),
        options=LetterOptions(lang="de"),
    )
    assert text == expected.text
    assert page.locator("#r-notes li").count() == len(expected.notes)

    page.get_by_role("button", name="Copy the letter").click()
    page.wait_for_function("() => document.getElementById('r-status').textContent.includes('copied')")
    assert page.evaluate("() => navigator.clipboard.readText()") == text
    with page.expect_download() as info:
        page.get_by_role("link", name="Download (.txt)").click()
    assert info.value.suggested_filename == f"erasure-pimeyes-{datetime.date.today().isoformat()}.txt"
    saved = tmp_path / "letter.txt"
    info.value.save_as(saved)
    assert saved.read_text(encoding="utf-8") == text

    # A complaint to an authority of the list, about a company of one's own.
    page.get_by_label("What do you want?").select_option("complaint")
    page.get_by_label("Company", exact=True).select_option(label="Another company…")
    page.get_by_label("Name of the company").fill("FaceFinder Ltd")
    page.get_by_label("Its e-mail address for data-protection requests").fill("privacy@facefinder.example")
    page.get_by_label("Authority (where you live or work)").select_option("de-hh")
    page.get_by_label("When did you send your request to the company?").fill("2026-10-15")
    page.get_by_label("Write the letter in").select_option("en")
    page.get_by_role("button", name="Write the letter").click()
    page.wait_for_function("() => document.getElementById('r-text').value.includes('FaceFinder Ltd')", timeout=30_000)
    complaint = page.locator("#r-text").input_value()
    assert "Article 77" in complaint and "Hamburg" in complaint

    # A refused field is told, not sent somewhere else.
    page.get_by_label("Your e-mail address (for the answer)").fill("not an address")
    page.get_by_role("button", name="Write the letter").click()
    page.wait_for_function("() => document.getElementById('r-status').textContent.startsWith('No letter')")
    assert elsewhere == []
