"""schemathesis against the OpenAPI document: no 5xx, every answer as documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import FACE_BOX
from unerkannt.detect.fake import FakeDetector

pytest.importorskip("fastapi")
schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402 - only after the skip check

from unerkannt.service import ServiceConfig, create_app  # noqa: E402

TEMP = Path(__import__("tempfile").mkdtemp(prefix="unerkannt-schema-"))
SHARES = Path(__import__("tempfile").mkdtemp(prefix="unerkannt-schema-shares-"))
APP = create_app(
    # schemathesis calls the application as the host "testserver"
    ServiceConfig(
        temp_dir=str(TEMP),
        max_upload_bytes=200_000,
        max_pixels=2_000_000,
        allowed_hosts=("testserver",),
        shares_dir=str(SHARES),
    ),
    detector=FakeDetector([FACE_BOX]),
)
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)


def left_behind() -> list[Path]:
    """Files with a name under the temporary folder, but the server folder's lock."""
    return [p for p in TEMP.rglob("*") if p.is_file() and p.name != "lock"]


@pytest.fixture(scope="module", autouse=True)
def _remove_temp() -> object:
    yield
    APP.state.service.spool.close()  # the application ran without its lifespan
    TEMP.rmdir()  # fails if the service left anything in it
    APP.state.service.shares.close()
    __import__("shutil").rmtree(SHARES)


@schema.parametrize()
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_api_answers_as_documented(case: schemathesis.Case) -> None:
    # Random bytes are schema-valid but not images: their 415 is the right answer,
    # so "positive data is accepted" does not apply; everything else is checked.
    case.call_and_validate(excluded_checks=[schemathesis.checks.positive_data_acceptance])
    assert left_behind() == []
