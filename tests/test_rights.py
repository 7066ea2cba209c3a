"""Rights letters (`unerkannt rights`): golden letters, hostile input, the data file, -o.

The expected letters are files under ``tests/rights_letters``; after a deliberate change of
wording, regenerate them with ``UNERKANNT_UPDATE_GOLDEN=1 python -m pytest tests/test_rights.py``
and read the diff before committing.
"""

from __future__ import annotations

import dataclasses
import datetime
import difflib
import errno
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from unerkannt import OutputError, UsageError
from unerkannt.cli import main
from unerkannt.rights import (
    Company,
    Establishment,
    LetterOptions,
    Sender,
    Texts,
    compose,
    directory,
    letter,
    save,
)
from unerkannt.rights.data import parse
from unerkannt.rights.text import add_months

GOLDEN = Path(__file__).parent / "rights_letters"
DATE = datetime.date(2026, 12, 1)
NAME = "Erika Mustermann"
EMAIL = "erika@example.org"
ADDRESS = ("Musterstraße 1", "12345 Berlin", "Germany")

#: One scenario per kind and language: (company, options beyond date and language).
SCENARIOS: dict[str, tuple[str, dict[str, Any]]] = {
    "access-en": ("clearview", {}),
    "access-de": ("clearview", {}),
    "erasure-en": ("pimeyes", {}),
    "erasure-de": ("pimeyes", {}),
    "objection-en": ("clearview", {"reason": "I am a journalist; being found by my face endangers my sources."}),
    "objection-de": (
        "clearview",
        {"reason": "Ich bin Journalistin; über mein Gesicht gefunden zu werden, gefährdet meine Quellen."},
    ),
    "complaint-en": ("clearview", {"authority": "nl", "request_date": datetime.date(2026, 10, 15), "reply": "refused"}),
    "complaint-de": ("pimeyes", {"authority": "de-hh", "request_date": datetime.date(2026, 10, 15)}),
}
#: Erasure letters go to PimEyes by e-mail only: the sender gives no postal address there.
SENDER_ADDRESS = {"erasure-en": (), "erasure-de": ()}


def _scenario(key: str, name: str = NAME) -> str:
    company, extra = SCENARIOS[key]
    kind, lang = key.split("-")
    return letter(
        kind,
        to=company,
        name=name,
        email=EMAIL,
        address=SENDER_ADDRESS.get(key, ADDRESS),
        lang=lang,
        date=DATE,
        **extra,
    )


def _compare(actual: str, path: Path) -> None:
    if os.environ.get("UNERKANNT_UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(actual, encoding="utf-8", newline="\n")
    expected = path.read_text(encoding="utf-8")
    if actual != expected:
        diff = "".join(difflib.unified_diff(expected.splitlines(True), actual.splitlines(True), str(path), "generated"))
        pytest.fail(f"the letter differs from {path.name}:\n{diff}")


@pytest.mark.parametrize("key", sorted(SCENARIOS))
def test_golden_letters(key: str) -> None:
    _compare(_scenario(key), GOLDEN / f"{key}.txt")


@pytest.mark.parametrize(
    ("key", "citations"),
    [
        (
            "access-en",
            [
                "Article 15 GDPR",
                "Article 15(3) GDPR",
                "Article 12(3) GDPR",
                "Article 12(6) GDPR",
                "Article 9(2) GDPR",
                "Article 4(14) GDPR",
                "Article 3(2)(b) GDPR",
            ],
        ),
        (
            "access-de",
            [
                "Art. 15 DSGVO",
                "Art. 15 Abs. 3 DSGVO",
                "Art. 12 Abs. 3 DSGVO",
                "Art. 12 Abs. 6 DSGVO",
                "Art. 9 Abs. 2 DSGVO",
                "Art. 3 Abs. 2 lit. b DSGVO",
            ],
        ),
        (
            "erasure-en",
            [
                "Article 17(1) GDPR",
                "Article 17(1)(c) and (d) GDPR",
                "Article 19 GDPR",
                "Article 9(2)(e) GDPR",
                "Article 12(3) GDPR",
                "Article 12(6) GDPR",
            ],
        ),
        (
            "erasure-de",
            [
                "Art. 17 Abs. 1 DSGVO",
                "Art. 19 DSGVO",
                "Art. 9 Abs. 2 lit. e DSGVO",
                "Art. 12 Abs. 3 DSGVO",
                "Art. 12 Abs. 6 DSGVO",
            ],
        ),
        (
            "objection-en",
            ["Article 21(1) GDPR", "Article 18(1)(d) GDPR", "Article 17(1)(c) GDPR", "Article 12(3) GDPR"],
        ),
        ("objection-de", ["Art. 21 Abs. 1 DSGVO", "Art. 18 Abs. 1 lit. d DSGVO", "Art. 12 Abs. 3 DSGVO"]),
        (
            "complaint-en",
            [
                "Article 77(1) GDPR",
                "Article 3(2)(b) GDPR",
                "Articles 55(1) and 77(1) GDPR",
                "Article 27 GDPR",
                "Article 77(2) GDPR",
            ],
        ),
        (
            "complaint-de",
            [
                "Art. 77 Abs. 1 DSGVO",
                "Art. 3 Abs. 2 lit. b DSGVO",
                "Art. 55 Abs. 1",
                "Art. 27 DSGVO",
                "Art. 77 Abs. 2 DSGVO",
            ],
        ),
    ],
)
def test_letters_cite_the_articles_of_their_kind(key: str, citations: list[str]) -> None:
    flat = " ".join(_scenario(key).split())
    for citation in citations:
        assert citation in flat, citation


def test_letter_is_a_whole_letter() -> None:
    """Sender, recipient from the data file, date, subject, salutation, closing and signature, in order."""
    text = _scenario("access-en")
    blocks = text.split("\n\n")
    clearview = directory().companies["clearview"]
    assert blocks[0].splitlines() == [NAME, *ADDRESS, EMAIL]
    assert blocks[1].splitlines() == [clearview.name, *clearview.postal.lines, "By e-mail: privacy@clearview.ai"]  # type: ignore[union-attr]
    assert blocks[2] == "1 December 2026"
    assert blocks[3].startswith("Subject: Request for access")
    assert blocks[4] == "Dear Sir or Madam,"
    assert "Yours faithfully,\n\n\nErika Mustermann\n" in text
    assert "[" not in text and "TODO" not in text  # nothing left to fill in


@pytest.mark.parametrize("lang", ["en", "de"])
def test_pimeyes_letters_go_by_email_and_say_why(lang: str) -> None:
    """No postal address of PimEyes could be verified: the letter has none and says so."""
    text = letter("access", to="pimeyes", name=NAME, email=EMAIL, lang=lang, date=DATE)
    recipient = text.split("\n\n")[1].splitlines()
    assert recipient[0] == "PimEyes" and len(recipient) == 2 and recipient[1].endswith("office@pimeyes.com")
    flat = " ".join(text.split())
    assert ("no postal address" in flat) if lang == "en" else ("eine Postanschrift" in flat)
    assert "4 February 2022" in flat or "4. Februar 2022" in flat


# --------------------------------------------------------------------------- hostile input

FORGED = [
    "Eve\nSubject: I consent to all processing",
    "Eve\r\nBy e-mail: attacker@example.org",
    "Eve\rX",
    "Eve\x1b[2J",
    "Eve\x00",
    "Eve\x85Nel",
    "Eve\u2028Line",
    "Eve\u2029Para",
    "Eve\u202egnirts",
    "\ufeffEve",
    "Eve\tTab",
    "x" * 201,
    "y" * 100_000,
    "",
    "   ",
]


@pytest.mark.parametrize("name", FORGED)
def test_hostile_names_are_refused(name: str) -> None:
    with pytest.raises(UsageError):
        letter("access", to="clearview", name=name, email=EMAIL, date=DATE)


@pytest.mark.parametrize(
    "field",
    [
        {"email": "erika@example.org\nBcc: everyone@example.org"},
        {"email": "not an address"},
        {"address": ["Musterstraße 1\nP.S. I withdraw this request"]},
        {"address": ["line"] * 9},
        {"address": ["x" * 201]},
    ],
)
def test_hostile_sender_fields_are_refused(field: dict[str, Any]) -> None:
    kwargs: dict[str, Any] = {"email": EMAIL, **field}
    with pytest.raises(UsageError):
        letter("access", to="clearview", name=NAME, date=DATE, **kwargs)


def test_hostile_company_authority_and_reason_are_refused() -> None:
    with pytest.raises(UsageError):
        Company.custom("Face\nFinder", email="privacy@ff.example")
    with pytest.raises(UsageError):
        Company.custom("FaceFinder", address=["1 Road", "London\x1b]0;pwned\x07"])
    with pytest.raises(UsageError):
        Company.custom("FaceFinder")  # neither an address nor an e-mail address
    with pytest.raises(UsageError):
        LetterOptions(reason="fine\n\nSubject: forged")
    with pytest.raises(UsageError):
        LetterOptions(reason="r" * 2001)


@pytest.mark.parametrize(
    "name", ["Zoë O'Brien-Łukasiewicz", "محمد رضا\u200cپور", "李小龍", "A" * 200, "Dr. med. Ünal (Ü) Çelik"]
)
def test_unusual_but_valid_names_change_only_the_name_lines(name: str) -> None:
    """A name sits on the sender line and under the signature, nowhere else: no forging by layout."""
    expected = _scenario("access-en").replace(NAME, name)
    assert _scenario("access-en", name=name) == expected
    assert _scenario("access-en", name=name).count(name) == 2


def test_cli_refuses_a_forged_name_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "letter.txt"
    status = main(
        ["rights", "access", "--to", "clearview", "--name", "Eve\nSubject: x", "--email", EMAIL, "-o", str(out)]
    )
    captured = capsys.readouterr()
    assert status == 2 and not out.exists() and captured.out == ""
    assert "line break" in captured.err and "\n" not in captured.err.strip()  # the error itself stays one line


# --------------------------------------------------------------------------- exit status 2


def test_unknown_company_without_address_exits_2_with_the_known_ones() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "unerkannt",
            "rights",
            "erasure",
            "--to",
            "FaceFinder",
            "--name",
            NAME,
            "--email",
            EMAIL,
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert "pimeyes" in proc.stderr and "clearview" in proc.stderr and "--to-address" in proc.stderr


def test_unknown_company_with_address_gets_its_letter(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(
        [
            "rights",
            "erasure",
            "--to",
            "FaceFinder Ltd",
            "--to-address",
            "1 Example Road",
            "--to-address",
            "London",
            "--name",
            NAME,
            "--email",
            EMAIL,
            "--date",
            "2026-12-01",
        ]
    )
    out = capsys.readouterr().out
    assert status == 0
    assert out.split("\n\n")[1].splitlines() == ["FaceFinder Ltd", "1 Example Road", "London"]
    assert "Should you have no establishment in the European Union" in " ".join(out.split())


def test_complaint_about_a_company_without_eu_establishment_needs_your_authority(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status = main(["rights", "complaint", "--to", "pimeyes", "--name", NAME, "--email", EMAIL])
    err = capsys.readouterr().err
    assert status == 2
    assert "no known establishment in the EU" in err and "de-bfdi" in err and "--authority-address" in err
    assert main(["rights", "complaint", "--to", "pimeyes", "--name", NAME, "--email", EMAIL, "--authority", "xx"]) == 2
    assert "de-hh" in capsys.readouterr().err


def test_complaint_to_an_authority_the_file_does_not_know(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(
        [
            "rights",
            "complaint",
            "--to",
            "clearview",
            "--name",
            NAME,
            "--email",
            EMAIL,
            "--date",
            "2026-12-01",
            "--authority",
            "Garante per la protezione dei dati personali",
            "--authority-address",
            "Piazza Venezia 11",
            "--authority-address",
            "00187 Roma",
        ]
    )
    out = capsys.readouterr().out
    assert status == 0
    assert out.split("\n\n")[1].splitlines() == [
        "Garante per la protezione dei dati personali",
        "Piazza Venezia 11",
        "00187 Roma",
    ]


def test_complaint_goes_to_the_lead_authority_of_an_eu_establishment() -> None:
    """A company established in the EU: its lead authority by default, the user's own as the alternative."""
    book = directory()
    source = book.sources["dpc-statement"]
    company = dataclasses.replace(
        Company.custom("Example Faces Ltd", email="privacy@faces.example"),
        establishment=Establishment(
            in_eu=True, note=Texts("Main establishment in Ireland.", "In Irland."), source=source, authority="ie"
        ),
    )
    sender = Sender(name=NAME, email=EMAIL)
    lead = compose("complaint", to=company, sender=sender, options=LetterOptions(date=DATE))
    assert lead.authority is not None and lead.authority.key == "ie"
    assert lead.text.split("\n\n")[1].splitlines()[0] == "Data Protection Commission"
    assert "you are the lead supervisory authority" in " ".join(lead.text.split())
    assert any("Instead of the lead authority" in n for n in lead.notes)
    mine = compose("complaint", to=company, sender=sender, options=LetterOptions(date=DATE, authority="at"))
    assert mine.text.split("\n\n")[1].splitlines()[0] == "Österreichische Datenschutzbehörde"
    assert "lead supervisory authority is Data Protection Commission" in " ".join(mine.text.split())


# --------------------------------------------------------------------------- notes


def test_notes_warn_about_unverified_addresses_and_foreign_languages() -> None:
    sender = Sender(name=NAME, email=EMAIL)
    pimeyes = compose("erasure", to="pimeyes", sender=sender, options=LetterOptions(date=DATE))
    assert any(n.startswith("Check before sending:") and "4 February 2022" in n for n in pimeyes.notes)
    assert any("only in English" in n for n in pimeyes.notes)
    cnil = compose("complaint", to="clearview", sender=sender, options=LetterOptions(date=DATE, authority="fr"))
    assert any(n.startswith("Check before sending:") and "secondary source" in n for n in cnil.notes)
    assert any("works in French" in n for n in cnil.notes)
    bfdi = compose(
        "complaint", to="pimeyes", sender=sender, options=LetterOptions(date=DATE, authority="de-bfdi", lang="de")
    )
    assert any("Bundeslandes" in n for n in bfdi.notes)
    hamburg = compose("complaint", to="pimeyes", sender=sender, options=LetterOptions(date=DATE, authority="de-hh"))
    assert not any(n.startswith("Check before sending") for n in hamburg.notes)  # a primary source
    assert any("Hamburg data protection authority has handled a complaint" in n for n in hamburg.notes)


def test_notes_give_the_deadline_and_the_next_steps() -> None:
    notes = compose(
        "access",
        to="clearview",
        sender=Sender(name=NAME, email=EMAIL),
        options=LetterOptions(date=datetime.date(2026, 1, 31)),
    ).notes
    flat = " ".join(notes)
    assert "28 February 2026" in flat  # one month after 31 January
    assert "reminder" in flat and "unerkannt rights complaint --to clearview" in flat
    assert "Do not send a copy of your ID" in flat and "black out" in flat


def test_complaint_before_the_month_is_over_is_flagged() -> None:
    sender = Sender(name=NAME, email=EMAIL)
    early = compose(
        "complaint",
        to="clearview",
        sender=sender,
        options=LetterOptions(date=DATE, authority="ie", request_date=datetime.date(2026, 11, 20)),
    )
    assert any("may not be over yet" in n for n in early.notes)
    late = compose(
        "complaint",
        to="clearview",
        sender=sender,
        options=LetterOptions(date=DATE, authority="ie", request_date=datetime.date(2026, 10, 20)),
    )
    assert not any("may not be over yet" in n for n in late.notes)
    with pytest.raises(UsageError):
        LetterOptions(date=DATE, request_date=datetime.date(2026, 12, 2))


def test_add_months_clamps_to_the_end_of_the_month() -> None:
    assert add_months(datetime.date(2026, 1, 31), 1) == datetime.date(2026, 2, 28)
    assert add_months(datetime.date(2028, 1, 31), 1) == datetime.date(2028, 2, 29)
    assert add_months(datetime.date(2026, 12, 15), 1) == datetime.date(2027, 1, 15)


# --------------------------------------------------------------------------- the data file


def test_every_address_names_its_source() -> None:
    book = directory()
    entries = [*book.companies.values(), *book.authorities.values()]
    assert {"pimeyes", "clearview"} <= set(book.companies)
    assert {"de-bfdi", "at", "nl", "ie", "fr"} <= set(book.authorities)
    for entry in entries:
        contacts = [c for c in (entry.postal, entry.email) if c is not None]
        assert contacts, entry.key
        for contact in contacts:
            source = contact.source
            assert source is not None and source.url.startswith("https://") and source.found
            assert datetime.date(2026, 1, 1) <= source.checked <= datetime.date.today()
            assert source.primary or contact.caveat is not None, entry.key
    assert book.companies["pimeyes"].postal is None  # never invented


def test_the_data_is_read_only() -> None:
    book = directory()
    with pytest.raises(TypeError):
        book.companies["evil"] = book.companies["pimeyes"]  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        book.companies["pimeyes"].name = "Evil"  # type: ignore[misc]


def test_the_data_file_rules_are_enforced() -> None:
    import tomllib
    from importlib import resources

    from unerkannt import UnerkanntError

    raw = tomllib.loads((resources.files("unerkannt.rights") / "data.toml").read_text(encoding="utf-8"))
    assert parse(raw).companies.keys() == directory().companies.keys()
    broken = {
        **raw,
        "authorities": {
            **raw["authorities"],
            "fr": {**raw["authorities"]["fr"], "postal": {"lines": ["x"], "source": "cnil-address-secondary"}},
        },
    }
    with pytest.raises(UnerkanntError, match="secondary source needs a caveat"):
        parse(broken)
    unsourced = {
        **raw,
        "authorities": {**raw["authorities"], "at": {**raw["authorities"]["at"], "email": {"address": "x@y.example"}}},
    }
    with pytest.raises(UnerkanntError, match="source"):
        parse(unsourced)


def test_list_shows_companies_authorities_and_sources(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rights", "list"]) == 0
    out = capsys.readouterr().out
    for key in ("pimeyes", "clearview", "de-bfdi", "de-hh", "at", "nl", "ie", "fr"):
        assert f"  {key}: " in out
    assert "no postal address could be verified" in out and "secondary source" in out and "checked 2026-12-01" in out


def test_import_loads_no_image_library() -> None:
    """The web page can offer letters without loading an image or video library."""
    heavy = "('PIL', 'cv2', 'onnxruntime', 'av')"
    code = f"import sys, unerkannt.rights; print(','.join(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""


# --------------------------------------------------------------------------- -o


def _cli_write(out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    company, _ = SCENARIOS["access-en"]
    args = [
        "rights",
        "access",
        "--to",
        company,
        "--name",
        NAME,
        "--email",
        EMAIL,
        "--date",
        DATE.isoformat(),
        "-o",
        str(out),
    ]
    for line in ADDRESS:
        args += ["--address", line]
    return subprocess.run([sys.executable, "-m", "unerkannt", *args, *extra], capture_output=True, text=True)


def test_output_file_is_the_golden_letter_owner_only_and_never_overwritten(tmp_path: Path) -> None:
    out = tmp_path / "letters" / "clearview.txt"
    proc = _cli_write(out)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""  # the letter went to the file, the notes to standard error
    assert "Notes (not part of the letter)" in proc.stderr
    assert out.read_bytes() == (GOLDEN / "access-en.txt").read_bytes()
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    before = out.stat()
    proc = _cli_write(out, "--lang", "de")
    assert proc.returncode == 1 and "exists" in proc.stderr and "--overwrite" in proc.stderr
    assert out.read_bytes() == (GOLDEN / "access-en.txt").read_bytes() and out.stat().st_mtime_ns == before.st_mtime_ns
    proc = _cli_write(out, "--lang", "de", "--overwrite")
    assert proc.returncode == 0, proc.stderr
    assert out.read_bytes() == (GOLDEN / "access-de.txt").read_bytes()
    assert sorted(p.name for p in out.parent.iterdir()) == ["clearview.txt"]  # no temporary file left


def test_save_writes_all_or_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure before the file is complete (here: the disk fills up at fsync) leaves no file at all."""
    import unerkannt.media.write as write

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(write.os, "fsync", full)
    target = tmp_path / "letter.txt"
    with pytest.raises(OutputError, match="disk is full"):
        save(_scenario("access-en"), target)
    assert list(tmp_path.iterdir()) == []
