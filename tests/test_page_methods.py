"""The web page offers every method of the server, labelled, and protects with the one chosen.

Real uvicorn and Debian's Chromium, as in ``test_service_browser.py`` (whose fixtures are used).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from test_service_browser import FACE, PHOTO, browser_page, inner, pixels, serve, wait_ready  # noqa: F401 (fixtures)
from unerkannt.anonymize import METHODS
from unerkannt.detect.fake import FakeDetector


def test_the_page_offers_the_server_s_methods_and_uses_the_chosen_one(serve, browser_page, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    page = browser_page
    page.goto(serve(FakeDetector([FACE])) + "/")
    options = page.locator("#method option")
    assert options.evaluate_all("(os) => os.map((o) => o.value)") == list(METHODS)
    labels = dict(zip(list(METHODS), options.all_inner_texts(), strict=True))
    assert labels["natural"].startswith("Natural") and labels["synthetic"].startswith("Face of no one")
    page.select_option("#lang", "de")
    german = dict(zip(list(METHODS), page.locator("#method option").all_inner_texts(), strict=True))
    assert german["natural"].startswith("Natürlich") and german["synthetic"].startswith("Gesicht von niemandem")
    page.select_option("#lang", "en")

    page.select_option("#method", "synthetic")
    assert page.locator("#method-warning").is_hidden(), "synthetic is not a weak method"
    page.select_option("#method", "blur")
    assert page.locator("#method-warning").is_visible()
    page.select_option("#method", "natural")
    assert page.locator("#method-warning").is_hidden()
    page.select_option("#format", "png")
    page.set_input_files("#files", str(PHOTO))
    wait_ready(page)
    with page.expect_download() as info:
        page.click(".item .download")
    saved = tmp_path / "natural.png"
    info.value.save_as(saved)
    before, after = pixels(PHOTO), pixels(saved)
    assert np.abs(after[inner(FACE)] - before[inner(FACE)]).mean() > 30, "the face was not replaced"
    # natural rebuilds from the surroundings: no flat fill colour (fill's disc has one
    # colour), but grain and the faint shading of a face
    face = after[inner(FACE)]
    assert len(np.unique(face.reshape(-1, 3), axis=0)) > 30 and face.mean(axis=2).std() > 2
