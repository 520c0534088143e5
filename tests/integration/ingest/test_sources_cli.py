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


@pytest.mark.usefixtures("french_locale")
async def test_sources_are_created_rotated_mapped_and_listed_in_french_under_a_french_locale(
    settings: ServiceSettings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PARTERRE_MONGO_URL", settings.mongo_url)
    monkeypatch.setenv("PARTERRE_MONGO_DATABASE", settings.mongo_database)

    assert await run(["sources", "create", "nord-shopify", "--org", "theatre-du-nord", "--kind", "shopify"]) == 2
    assert capsys.readouterr().err == (
        "erreur : une source Shopify exige --signing-secret (le secret d'application avec lequel Shopify signe)\n"
    )
    created = ["sources", "create", "nord-shopify", "--org", "theatre-du-nord", "--kind", "shopify"]
    assert await run([*created, "--signing-secret", "premier-secret"]) == 0
    assert capsys.readouterr().err == (
        "source nord-shopify : conservez cette clé dès maintenant ; elle ne pourra plus être affichée :\n"
    )
    assert await run([*created, "--signing-secret", "premier-secret"]) == 2
    assert capsys.readouterr().err == "erreur : la source nord-shopify existe déjà\n"
    assert await run(["sources", "rotate", "nord-shopify", "--signing-secret", "second-secret"]) == 0
    assert capsys.readouterr().out == (
        "nord-shopify : nouveau secret de signature ajouté ; le précédent reste valide jusqu'au prochain\n"
    )
    assert await run(["sources", "rotate", "nord-billetterie"]) == 2
    assert capsys.readouterr().err == "erreur : la source nord-billetterie n'existe pas\n"
    assert await run(["sources", "set-mapping", "nord-shopify", "--clear"]) == 2
    assert capsys.readouterr().err == (
        "erreur : nord-shopify est une source shopify ; seules les billetteries prennent une correspondance de "
        "colonnes\n"
    )
    assert await run(["sources", "create", "nord-billetterie", "--org", "theatre-du-nord", "--kind", "boxoffice"]) == 0
    capsys.readouterr()
    assert await run(["sources", "set-mapping", "nord-billetterie", "--clear"]) == 0
    assert capsys.readouterr().out == "nord-billetterie : correspondance de colonnes supprimée\n"

    assert await run(["sources", "list", "--org", "theatre-du-nord"]) == 0
    assert sorted(capsys.readouterr().out.splitlines()) == [
        "nord-billetterie  theatre-du-nord  boxoffice  1 clé  0 secret de signature",
        "nord-shopify  theatre-du-nord  shopify  1 clé  2 secrets de signature",
    ]
