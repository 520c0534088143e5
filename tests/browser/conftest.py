"""The console in a real browser: the whole platform on its own Kafka namespace and database, staff accounts, the
test season sent through ingest, and Debian's Chromium driven by Playwright (no browser is downloaded)."""

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright
from prometheus_client.parser import text_string_to_metric_families

from infra.platform.isolated import IsolatedPlatform, isolated_platform
from services.console.adapters.mongo import MongoSessionStore, MongoStaffDirectory
from services.console.context import SystemClock
from services.console.domain.roles import Role
from services.console.handlers import Accounts, add_staff_member
from shared.mongo import mongo_client
from shared.tokens import TOKENS_COLLECTION, Scope, TokenStore
from tests.browser import season
from tests.conftest import REPO_ROOT, Servers
from tests.integration.waiting import eventually

CHROMIUM = os.environ.get("PARTERRE_CHROMIUM", "/usr/bin/chromium")
# Without the background-networking flags Chromium keeps calling Google's hosts, which this machine refuses.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(os.environ.get("PARTERRE_SCREENSHOTS_DIR", REPO_ROOT / ".local" / "screenshots" / "console"))
PASSWORD = "une phrase de passe assez longue"
OTHER_ORGANISATION = "autre-theatre"


@dataclass(frozen=True)
class ConsoleUnderTest:
    platform: IsolatedPlatform
    url: str
    api_token: str

    async def api(self, service: str, path: str, **params: Any) -> Any:
        async with httpx.AsyncClient(
            base_url=self.platform.url(service), headers={"Authorization": f"Bearer {self.api_token}"}
        ) as client:
            answer = await client.get(path, params=params)
            return answer.json() if answer.status_code == 200 else None

    async def person_by_email(self, email: str) -> dict[str, Any] | None:
        person: dict[str, Any] | None = await self.api("identity", "/v1/persons", email=email)
        return person


async def _facts_identity_handled(platform: IsolatedPlatform) -> float:
    """How many facts identity has resolved or filtered out, from its Prometheus metrics."""
    async with httpx.AsyncClient(base_url=platform.url("identity")) as client:
        exposition = (await client.get("/metrics")).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(exposition)
        if family.name in ("parterre_identity_resolutions", "parterre_identity_filtered_facts")
        for sample in family.samples
        if sample.name.endswith("_total")
    )


async def _send(platform: IsolatedPlatform, token: str, batches: list[list[dict[str, Any]]]) -> None:
    async with httpx.AsyncClient(
        base_url=platform.url("ingest"), headers={"Authorization": f"Bearer {token}"}
    ) as client:
        for batch in batches:
            expected = await _facts_identity_handled(platform) + len(batch)
            answer = await client.post("/v1/events", json=batch)
            assert answer.status_code == 202, answer.text
            assert answer.json()["rejected"] == 0, answer.text
            # Each batch is resolved before the next, as when upstream systems report days apart.
            assert await _identity_reaches(platform, expected), f"identity did not resolve the batch: {batch}"


async def _identity_reaches(platform: IsolatedPlatform, facts_handled: float) -> bool:
    async def reached() -> bool:
        return await _facts_identity_handled(platform) >= facts_handled

    return await eventually(reached, deadline_seconds=60)


@pytest.fixture(scope="module")
async def console(servers: Servers, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ConsoleUnderTest]:
    database = f"console_{uuid.uuid4().hex[:10]}"
    root = tmp_path_factory.mktemp("console-platform")
    async with (
        mongo_client(servers.mongo_url, app_name="parterre-tests") as client,
        isolated_platform(root, servers.kafka_bootstrap, servers.mongo_url, database=database) as platform,
    ):
        store = client[database]
        tokens = TokenStore(store[TOKENS_COLLECTION])
        issued = await tokens.issue(season.ORGANISATION, set(Scope), "browser tests")
        accounts = Accounts(MongoStaffDirectory(store), MongoSessionStore(store), tokens, SystemClock())
        for username, organisation, roles in (
            ("marie", season.ORGANISATION, {Role.ADMIN}),
            ("guichet", season.ORGANISATION, {Role.VIEWER}),
            ("exploitation", season.ORGANISATION, {Role.OPERATIONS}),
            ("confidentialite", season.ORGANISATION, {Role.PRIVACY}),
            ("voisin", OTHER_ORGANISATION, {Role.ADMIN}),
        ):
            await add_staff_member(
                accounts,
                username=username,
                organisation_id=organisation,
                display_name=username.capitalize(),
                roles=frozenset(roles),
                password=PASSWORD,
            )
        under_test = ConsoleUnderTest(platform, platform.url("console"), issued.token)
        for patron in (season.HELENE, season.EMILE):
            await _send(platform, issued.token, patron.batches())
        await _send(platform, issued.token, season.gabriel_and_a_probable_duplicate())
        await _send(platform, issued.token, season.zoe_who_asks_to_be_erased())

        async def merged_and_profiled() -> bool:
            for patron in (season.HELENE, season.EMILE):
                person = await under_test.person_by_email(patron.shop_email)
                if person is None or not person["merges"]:
                    return False
                profile = await under_test.api("profile", f"/v1/profiles/{person['person_id']}")
                if profile is None or len(profile["fields"]["sources"]) < 3:
                    return False
            reviews = await under_test.api("identity", "/v1/review")
            zoe = await under_test.person_by_email(season.ZOE_EMAIL)
            return bool(reviews and reviews["items"]) and zoe is not None

        assert await eventually(merged_and_profiled, deadline_seconds=90), "the season did not go through"
        yield under_test
        await client.drop_database(database)


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    if shutil.which(CHROMIUM) is None:
        pytest.fail(f"no Chromium at {CHROMIUM}: `make tools` installs Debian's chromium package")
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        await launched.close()


@pytest.fixture
async def context(browser: Browser) -> AsyncIterator[BrowserContext]:
    # French first, as a Québec organisation's browser would ask.
    opened = await browser.new_context(locale="fr-CA", viewport={"width": 1280, "height": 900})
    opened.set_default_timeout(15_000)
    yield opened
    await opened.close()


@pytest.fixture
async def page(context: BrowserContext) -> Page:
    return await context.new_page()


async def log_in(page: Page, console: ConsoleUnderTest, username: str, then: str = "/patrons") -> None:
    await page.goto(f"{console.url}/login?next={then}")
    await page.get_by_label("Nom d'utilisateur").fill(username)
    await page.get_by_label("Mot de passe").fill(PASSWORD)
    await page.get_by_role("button", name="Se connecter").click()
    await page.wait_for_url(f"{console.url}{then}*")


async def screenshot(page: Page, name: str) -> None:
    """Written for a person to look at the pages after the run (`.local/screenshots/console/` by default)."""
    await asyncio.to_thread(SCREENSHOTS.mkdir, parents=True, exist_ok=True)
    await page.screenshot(path=SCREENSHOTS / f"{name}.png", full_page=True)
