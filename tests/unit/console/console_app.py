"""The console's app, its staff and sessions in memory, the platform's services answered by a function: its pages
seen from HTTP without a server."""

import asyncio
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
from fastapi.testclient import TestClient

from services.console.adapters.platform_api import PlatformApi, ServiceUrls
from services.console.bootstrap import create_app
from services.console.context import ConsoleContext, load_catalog, page_templates
from services.console.domain.accounts import LoginThrottle
from services.console.domain.roles import Role
from services.console.entrypoints.http import LANGUAGE_COOKIE, SESSION_COOKIE
from services.console.handlers import Accounts, ActiveSession, ConsoleDeps, add_staff_member, log_in
from services.console.settings import ConsoleSettings
from tests.unit.console.fakes import MemorySessionStore, MemoryStaffDirectory, MemoryTokens, SteppingClock

PASSWORD = "une phrase de passe assez longue"
Platform = Callable[[httpx.Request], httpx.Response]


def not_found(_request: httpx.Request) -> httpx.Response:
    """What a service answers for an id it does not know."""
    detail = {"code": "not_found", "message": {"en": "Nothing with this id.", "fr": "Rien à cet identifiant."}}
    return httpx.Response(404, json={"detail": detail})


def console_as(platform: Platform, *roles: Role, language: str = "fr") -> tuple[TestClient, ActiveSession]:
    """A browser logged in to the console as a member with `roles`, its pages in `language`."""
    settings = ConsoleSettings()
    app = create_app(settings)
    urls = ServiceUrls("http://ingest", "http://identity", "http://profile", "http://notify")
    api = PlatformApi(urls, timeout_seconds=1, transport=httpx.MockTransport(platform))
    accounts = Accounts(MemoryStaffDirectory(), MemorySessionStore(), MemoryTokens(), SteppingClock())
    deps = ConsoleDeps(accounts, api, LoginThrottle(5, timedelta(minutes=15)), timedelta(hours=10), timedelta(hours=1))
    app.state.runtime.extras["console"] = ConsoleContext(settings, deps, load_catalog(), page_templates())

    async def logged_in() -> ActiveSession:
        await api.start()
        await add_staff_member(
            accounts,
            username="marie",
            organisation_id="theatre-demo",
            display_name="Marie",
            roles=frozenset(roles),
            password=PASSWORD,
        )
        return await log_in("marie", PASSWORD, deps)

    active = asyncio.run(logged_in())
    browser = TestClient(app, raise_server_exceptions=False, follow_redirects=False)
    browser.cookies.set(SESSION_COOKIE, active.cookie)
    browser.cookies.set(LANGUAGE_COOKIE, language)
    return browser, active


# What identity answers for an active person known by nothing yet.
PERSON: dict[str, Any] = {
    "person_id": "per_1",
    "status": "active",
    "merged_into": None,
    "created_at": "2026-01-01T00:00:00+00:00",
    "identifiers": [],
    "household": {"household_id": None, "members": []},
    "merges": [],
    "kept_apart_from": [],
}
