"""`parterre tokens` creates a token shown once, lists tokens without secrets, and revokes them."""

from datetime import UTC, datetime

import pytest

from shared.cli import main
from shared.mongo import mongo_client
from shared.settings import ServiceSettings
from shared.tokens import TOKENS_COLLECTION, Scope, TokenStore, token_id_of

pytestmark = [pytest.mark.mongo]


async def test_a_token_created_by_the_cli_authenticates_until_the_cli_revokes_it(
    settings: ServiceSettings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PARTERRE_MONGO_URL", settings.mongo_url)
    monkeypatch.setenv("PARTERRE_MONGO_DATABASE", settings.mongo_database)

    async with mongo_client(settings.mongo_url, app_name="parterre-tests") as client:
        store = TokenStore(client[settings.mongo_database][TOKENS_COLLECTION])
        try:
            exit_code = await _run(
                [
                    "tokens",
                    "create",
                    "--org",
                    "theatre-du-nord",
                    "--scope",
                    "events:write",
                    "--scope",
                    "profiles:read",
                    "--name",
                    "box office",
                ]
            )
            token = capsys.readouterr().out.strip()
            principal = await store.authenticate(token)

            assert exit_code == 0
            assert principal is not None
            assert principal.organisation_id == "theatre-du-nord"
            assert {scope.value for scope in principal.scopes} == {"events:write", "profiles:read"}

            assert await _run(["tokens", "list", "--org", "theatre-du-nord"]) == 0
            listing = capsys.readouterr().out
            token_id = token_id_of(token)
            assert token_id is not None
            assert token_id in listing
            assert "active" in listing
            assert token not in listing

            assert await _run(["tokens", "revoke", token_id]) == 0
            assert await store.authenticate(token) is None
            assert await _run(["tokens", "revoke", token_id]) == 1
        finally:
            await client.drop_database(settings.mongo_database)


async def test_a_token_past_its_expiry_is_listed_expired_with_its_end(
    settings: ServiceSettings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PARTERRE_MONGO_URL", settings.mongo_url)
    monkeypatch.setenv("PARTERRE_MONGO_DATABASE", settings.mongo_database)
    ended = datetime(2026, 11, 30, 18, 0, tzinfo=UTC)
    async with mongo_client(settings.mongo_url, app_name="parterre-tests") as client:
        store = TokenStore(client[settings.mongo_database][TOKENS_COLLECTION])
        session = await store.issue("theatre-du-nord", {Scope.PROFILES_READ}, "console:marie", expires_at=ended)
        lasting = await store.issue("theatre-du-nord", {Scope.EVENTS_WRITE}, "box office")

        assert await _run(["tokens", "list", "--org", "theatre-du-nord"]) == 0

    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert lines[session.token_id].split()[2] == "expired"
    assert lines[session.token_id].endswith("until 2026-11-30 18:00 UTC")
    assert lines[lasting.token_id].split()[2] == "active"


@pytest.mark.usefixtures("french_locale")
async def test_tokens_are_created_listed_and_revoked_in_french_under_a_french_locale(
    settings: ServiceSettings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PARTERRE_MONGO_URL", settings.mongo_url)
    monkeypatch.setenv("PARTERRE_MONGO_DATABASE", settings.mongo_database)
    ended = datetime(2026, 11, 30, 18, 0, tzinfo=UTC)
    async with mongo_client(settings.mongo_url, app_name="parterre-tests") as client:
        store = TokenStore(client[settings.mongo_database][TOKENS_COLLECTION])
        session = await store.issue("theatre-du-nord", {Scope.PROFILES_READ}, "console:marie", expires_at=ended)

    assert await _run(["tokens", "create", "--org", "theatre-du-nord", "--scope", "events:write", "--name", "bo"]) == 0
    created = capsys.readouterr()
    token_id = token_id_of(created.out.strip())
    assert token_id is not None
    assert created.err == (
        f"identifiant du jeton : {token_id}\nConservez ce jeton dès maintenant ; il ne pourra plus être affiché :\n"
    )
    assert await _run(["tokens", "revoke", session.token_id]) == 0
    assert capsys.readouterr().out == f"jeton {session.token_id} révoqué\n"
    assert await _run(["tokens", "revoke", session.token_id]) == 1
    assert capsys.readouterr().err == f"aucun jeton actif n'a l'identifiant {session.token_id}\n"

    assert await _run(["tokens", "list", "--org", "theatre-du-nord"]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert lines[session.token_id].split()[2] == "révoqué"
    assert lines[session.token_id].endswith("jusqu'au 2026-11-30 18:00 UTC")
    assert lines[token_id].split()[2] == "actif"


async def _run(arguments: list[str]) -> int:
    # The CLI runs its own event loop; run it in a thread so this test's loop is not nested.
    import asyncio

    return await asyncio.to_thread(main, arguments)
