"""`parterre console` says in French, under a French locale, what it did to a staff account and what it refused."""

import asyncio

import pytest

from shared.cli import main
from shared.settings import ServiceSettings

pytestmark = [pytest.mark.mongo]


async def run(arguments: list[str]) -> int:
    # The command runs its own event loop.
    return await asyncio.to_thread(main, arguments)


@pytest.mark.usefixtures("french_locale")
async def test_a_staff_account_is_added_listed_and_disabled_in_french_under_a_french_locale(
    settings: ServiceSettings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PARTERRE_MONGO_URL", settings.mongo_url)
    monkeypatch.setenv("PARTERRE_MONGO_DATABASE", settings.mongo_database)
    added = ["console", "add-user", "marie", "--org", "theatre-du-nord", "--name", "Marie", "--role", "viewer"]

    assert await run([*added, "--generate"]) == 0
    created = capsys.readouterr()
    assert created.out.splitlines()[0] == "compte marie (theatre-du-nord) ajouté : viewer"
    assert created.err == "Mot de passe (affiché une seule fois) :\n"
    assert await run([*added, "--generate"]) == 2
    assert capsys.readouterr().err == "erreur : le nom d'utilisateur « marie » est déjà pris\n"
    assert await run(["console", "users", "--org", "theatre-du-nord"]) == 0
    assert capsys.readouterr().out == "marie  theatre-du-nord  actif      viewer  Marie\n"
    assert await run(["console", "set-password", "marie", "--generate"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "mot de passe de marie changé ; ses sessions sont fermées"
    assert await run(["console", "disable", "marie"]) == 0
    assert capsys.readouterr().out == "marie ne peut plus se connecter ; ses sessions sont fermées\n"
    assert await run(["console", "users"]) == 0
    assert capsys.readouterr().out == "marie  theatre-du-nord  désactivé  viewer  Marie\n"
    assert await run(["console", "disable", "jean"]) == 2
    assert capsys.readouterr().err == "erreur : aucun membre du personnel n'a le nom d'utilisateur « jean »\n"
