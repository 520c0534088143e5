"""`parterre sources`: register an upstream system, rotate its credential with two valid at once, list them."""

import asyncio

import pytest

from services.ingest.adapters.mongo import SOURCES, MongoSourceRegistry
from shared.cli import main
from shared.mongo import mongo_client
from shared.settings import ServiceSettings

pytestmark = [pytest.mark.mongo]


async def run(arguments: list[str]) -> int:
    return await asyncio.to_thread(main, arguments)


async def test_a_rotated_key_and_the_previous_one_are_valid_and_the_one_before_is_not(
    settings: ServiceSettings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PARTERRE_MONGO_URL", settings.mongo_url)
    monkeypatch.setenv("PARTERRE_MONGO_DATABASE", settings.mongo_database)
    keys = []
    assert await run(["sources", "create", "nord-mailchimp", "--org", "theatre-du-nord", "--kind", "mailchimp"]) == 0
    keys.append(capsys.readouterr().out.strip())
    for _ in range(2):
        assert await run(["sources", "rotate", "nord-mailchimp"]) == 0
        keys.append(capsys.readouterr().out.strip())

    async with mongo_client(settings.mongo_url, app_name="parterre-tests") as client:
        source = await MongoSourceRegistry(client[settings.mongo_database][SOURCES]).find("nord-mailchimp")
        listed = await run(["sources", "list", "--org", "theatre-du-nord"])
        await client.drop_database(settings.mongo_database)
    listing = capsys.readouterr().out

    assert source is not None
    assert [source.accepts_key(key) for key in keys] == [False, True, True]
    assert listed == 0
    assert "nord-mailchimp" in listing
    assert all(key not in listing for key in keys)


async def test_a_shopify_source_without_its_signing_secret_is_refused_clearly(
    settings: ServiceSettings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PARTERRE_MONGO_URL", settings.mongo_url)
    monkeypatch.setenv("PARTERRE_MONGO_DATABASE", settings.mongo_database)

    code = await run(["sources", "create", "nord-shopify", "--org", "theatre-du-nord", "--kind", "shopify"])

    assert code == 2
    assert "--signing-secret" in capsys.readouterr().err
