"""`parterre sources` refuses in French, under a French locale, what it refuses before reading the store."""

from pathlib import Path

import pytest

from shared.cli import main

pytestmark = pytest.mark.usefixtures("french_locale")


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (
            ["sources", "create", "Nord Shopify", "--org", "theatre-du-nord", "--kind", "mailchimp"],
            "erreur : l'identifiant de source « Nord Shopify » doit compter de 2 à 63 lettres minuscules, chiffres ou "
            "tirets\n",
        ),
        (
            ["sources", "create", "nord-mailchimp", "--org", "Nord", "--kind", "mailchimp"],
            "erreur : l'identifiant d'organisation « Nord » doit compter de 2 à 63 lettres minuscules, chiffres ou "
            "tirets\n",
        ),
        (
            ["sources", "set-mapping", "nord-billetterie", "absente.yaml"],
            "erreur : absente.yaml : fichier ou dossier introuvable\n",
        ),
    ],
    ids=["source-id", "organisation-id", "mapping-file"],
)
def test_a_source_that_cannot_be_is_refused_in_french(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    argv: list[str],
    said: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    # Nowhere to connect to: a command that went on would fail there, not with the refusal.
    monkeypatch.setenv("PARTERRE_MONGO_URL", "mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=1")

    assert main(argv) == 2
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", said)


def test_sources_say_in_french_that_the_store_cannot_be_reached(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PARTERRE_MONGO_URL", "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=1")

    assert main(["sources", "list"]) == 1
    said = capsys.readouterr().err
    assert said.startswith("erreur : la base de données : ")
    assert "Traceback" not in said
