"""`make demo` at a small scale: the four services started on free ports with a Kafka namespace and a database of
their own, a season of 80 patrons sent through them, and a summary whose numbers agree with one another."""

import re
from pathlib import Path

import httpx
import pytest

from demo.run import run_demo
from infra.platform.isolated import isolated_platform
from shared.settings import ServiceSettings
from tests.integration.demo.platform import TO_THE_DEMO_RECEIVER, demo_config
from tests.integration.demo.reconciliation import assert_reconciled

pytestmark = [pytest.mark.kafka, pytest.mark.mongo]


async def test_a_small_season_goes_through_every_service_and_the_summary_adds_up(
    settings: ServiceSettings, tmp_path: Path
) -> None:
    # A platform of its own on the shared broker: its topics and groups hold nothing but this test's events.
    async with isolated_platform(
        tmp_path,
        settings.kafka_bootstrap,
        settings.mongo_url,
        database=settings.mongo_database,
        extra_environment=TO_THE_DEMO_RECEIVER,
    ) as platform:
        config = demo_config(platform, settings, patrons=80, seed=5, drain_timeout_seconds=150)
        summary = await run_demo(config, say=lambda _line: None)
        showcase_page = await _console_page(config.console_url, summary.console_password, summary.showcase_person_id)

    intake, stored = summary.intake, summary.stored
    assert intake.records_sent == summary.season.records
    # Every event ingest accepted reached a profile or was filtered with its reason; nothing was dead-lettered.
    assert_reconciled(summary, platform.namespace)
    assert "MISMATCH" not in summary.render()
    assert 0 < stored.people <= summary.season.records
    assert sum(summary.segments.values()) > 0
    # At least one trigger got to the receiver.
    assert summary.receiver_by_type["parterre.trigger.fired.v1"] >= 1
    assert summary.showcase_person_id is not None
    assert "curl -s -H" in summary.render()
    # The console account the summary names opens the showcase patron's page.
    assert f"log in as demo, password {summary.console_password}" in summary.render()
    assert summary.showcase_email is not None
    assert summary.showcase_email.lower() in showcase_page.lower()


async def _console_page(console_url: str, password: str, person_id: str | None) -> str:
    """The showcase patron's console page, after logging in as a browser would (cookies kept over plain HTTP)."""
    async with httpx.AsyncClient(base_url=console_url) as client:
        form = await client.get("/login")
        login_csrf = re.search(r'name="login_csrf" value="([^"]+)"', form.text)
        assert login_csrf is not None
        cookies = {"parterre_login_csrf": form.cookies["parterre_login_csrf"]}
        answer = await client.post(
            "/login",
            data={"username": "demo", "password": password, "next": "/patrons", "login_csrf": login_csrf[1]},
            headers={"Cookie": "; ".join(f"{name}={value}" for name, value in cookies.items())},
        )
        assert answer.status_code == 303, answer.text
        page = await client.get(
            f"/patrons/{person_id}", headers={"Cookie": f"parterre_session={answer.cookies['parterre_session']}"}
        )
        assert page.status_code == 200
        return page.text
