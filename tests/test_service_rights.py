"""The page's "Your rights" through the API: the letters are those of ``unerkannt rights``
(the golden letters of ``tests/rights_letters``), bad fields are 422, nothing is kept."""

from __future__ import annotations

import datetime
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
from fastapi.testclient import TestClient

from unerkannt.rights import LetterOptions, Sender, compose
from unerkannt.service import ServiceConfig, create_app

GOLDEN = Path(__file__).parent / "rights_letters"
NAME = "Erika Mustermann"
EMAIL = "erika@example.org"
ADDRESS = ["Musterstraße 1", "12345 Berlin", "Germany"]
#: The scenarios of tests/test_rights.py, as the page sends them.
SCENARIOS: dict[str, dict[str, Any]] = {
    "access-en": {"to": "clearview"},
    "access-de": {"to": "clearview"},
    "erasure-en": {"to": "pimeyes", "address": []},
    "erasure-de": {"to": "pimeyes", "address": []},
    "objection-en": {"to": "clearview", "reason": "I am a journalist; being found by my face endangers my sources."},
    "objection-de": {
        "to": "clearview",
        "reason": "Ich bin Journalistin; über mein Gesicht gefunden zu werden, gefährdet meine Quellen.",
    },
    "complaint-en": {"to": "clearview", "authority": "nl", "request_date": "2026-10-15", "reply": "refused"},
    "complaint-de": {"to": "pimeyes", "authority": "de-hh", "request_date": "2026-10-15"},
}


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    temp = tmp_path / "tmp"
    temp.mkdir()
    with TestClient(create_app(ServiceConfig(temp_dir=str(temp))), base_url="http://localhost") as c:
        yield c
    assert list(temp.iterdir()) == [], "the server kept something"


def body(key: str, **changes: Any) -> dict[str, Any]:
    kind, lang = key.split("-")
    fields = {"kind": kind, "lang": lang, "name": NAME, "email": EMAIL, "address": ADDRESS, "date": "2026-12-01"}
    return {**fields, **SCENARIOS[key], **changes}


@pytest.mark.parametrize("key", sorted(SCENARIOS))
def test_the_letters_are_those_of_the_command(client: TestClient, key: str) -> None:
    r = client.post("/v1/rights/letter", json=body(key))
    assert r.status_code == 200, r.text
    answer = r.json()
    assert answer["text"] == (GOLDEN / f"{key}.txt").read_text(encoding="utf-8")
    kind, lang = key.split("-")
    options = {k: v for k, v in SCENARIOS[key].items() if k in ("authority", "reply", "reason")}
    if "request_date" in SCENARIOS[key]:
        options["request_date"] = datetime.date.fromisoformat(SCENARIOS[key]["request_date"])
    expected = compose(
        kind,
        to=SCENARIOS[key]["to"],
        sender=Sender(name=NAME, email=EMAIL, address=tuple(SCENARIOS[key].get("address", ADDRESS))),
        options=LetterOptions(lang=lang, date=datetime.date(2026, 12, 1), **options),
    )
    assert answer["notes"] == list(expected.notes) and answer["notes"]
    assert answer["filename"] == f"{kind}-{SCENARIOS[key]['to']}-2026-12-01.txt"


def test_another_company_and_another_authority(client: TestClient) -> None:
    r = client.post(
        "/v1/rights/letter",
        json={
            "kind": "complaint",
            "company_name": "FaceFinder Ltd",
            "company_address": ["1 Example Road", "London"],
            "authority_name": "Datenschutzbehörde Musterland",
            "authority_email": "poststelle@dsb.example",
            "name": NAME,
            "email": EMAIL,
            "lang": "de",
        },
    )
    assert r.status_code == 200, r.text
    text = r.json()["text"]
    assert "Datenschutzbehörde Musterland" in text and "poststelle@dsb.example" in text and "FaceFinder Ltd" in text
    assert r.json()["filename"].startswith("complaint-facefinder-ltd-")


def test_directory_lists_companies_and_authorities(client: TestClient) -> None:
    book = client.get("/v1/rights").json()
    assert {c["key"] for c in book["companies"]} >= {"pimeyes", "clearview"}
    assert {a["key"] for a in book["authorities"]} >= {"de-hh", "nl"}
    assert book["kinds"] == ["access", "erasure", "objection", "complaint"]
    pimeyes = next(c for c in book["companies"] if c["key"] == "pimeyes")
    assert pimeyes["postal"] is None and pimeyes["email"] == "office@pimeyes.com"


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"name": "Erika\nTo: someone else"}, "line break"),
        ({"name": "Erika\u202emalicious"}, "formatting character"),
        ({"email": "not-an-address"}, "e-mail"),
        ({"to": "facefinder"}, "no address is known"),
        ({"company_name": "FaceFinder Ltd"}, "one of the two"),
        ({"to": None}, "one of the two"),
        ({"kind": "complaint", "authority": None}, "authority"),
        ({"lang": "fr"}, "lang"),
        ({"colour": "red"}, "colour"),
        ({"address": ["x"] * 9}, "address"),
        ({"email": None, "address": []}, "e-mail address"),
    ],
)
def test_refused_fields_are_422_with_the_reason(client: TestClient, changes: dict[str, Any], words: str) -> None:
    r = client.post("/v1/rights/letter", json=body("erasure-en", **changes))
    assert r.status_code == 422, r.text
    assert words in r.json()["error"]["message"]


def test_size_and_type_are_bounded(client: TestClient) -> None:
    big = json.dumps(body("erasure-en", reason="x" * 70_000))
    r = client.post("/v1/rights/letter", content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit is counted as it comes
        yield b'{"kind": "erasure", "reason": "'
        for _ in range(100):
            yield b"x" * 1000
        yield b'"}'

    r = client.post("/v1/rights/letter", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    r = client.post("/v1/rights/letter", data={"kind": "erasure"})
    assert r.status_code == 415
    r = client.post("/v1/rights/letter", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 422


def test_nothing_of_the_letter_is_logged(client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    r = client.post("/v1/rights/letter", json=body("access-en"))
    assert r.status_code == 200
    assert "Mustermann" not in caplog.text and EMAIL not in caplog.text and "Musterstraße" not in caplog.text
    assert "rights: a letter (access, en)" in caplog.text


def test_the_letter_needs_the_token_when_one_is_set(tmp_path: Path) -> None:
    app = create_app(ServiceConfig(temp_dir=str(tmp_path), token="s3cret"))
    with TestClient(app, base_url="http://localhost") as c:
        assert c.post("/v1/rights/letter", json=body("access-en")).status_code == 401
        assert c.get("/v1/rights").status_code == 401
        ok = c.post("/v1/rights/letter", json=body("access-en"), headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200
