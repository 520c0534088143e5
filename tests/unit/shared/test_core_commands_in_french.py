"""`parterre tokens`, `topics` and `docs` speak French under a French locale: their refusals, failures and results."""

from pathlib import Path

import pytest

from shared.asyncapi import events_markdown
from shared.cli import main

pytestmark = pytest.mark.usefixtures("french_locale")


def test_a_token_for_an_organisation_id_that_cannot_be_one_is_refused_in_french_before_the_store_is_read(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PARTERRE_MONGO_URL", "mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=1")

    assert main(["tokens", "create", "--org", "Théâtre", "--scope", "events:write", "--name", "billetterie"]) == 2
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == (
        "",
        "erreur : --org : l'identifiant d'organisation « Théâtre » doit compter de 2 à 63 lettres minuscules, "
        "chiffres ou tirets\n",
    )


def test_tokens_say_in_french_that_the_store_cannot_be_reached(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PARTERRE_MONGO_URL", "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=1")

    assert main(["tokens", "list"]) == 1
    said = capsys.readouterr().err
    assert said.startswith("erreur : la base de données : ")
    assert "Traceback" not in said


def test_topics_say_in_french_that_kafka_cannot_be_reached(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PARTERRE_KAFKA_BOOTSTRAP", "127.0.0.1:1")

    assert main(["topics", "create"]) == 1
    [said] = [line for line in capsys.readouterr().err.splitlines() if line.startswith("erreur")]
    assert said.startswith("erreur : Kafka : ")
    assert said.endswith(" ; relancer la commande crée ce que celle-ci n'a pas créé")


def test_the_event_documents_say_in_french_which_is_out_of_date_and_which_was_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "events.md").write_text(events_markdown())

    assert main(["docs", "events", "--output-dir", str(tmp_path), "--check"]) == 1
    assert capsys.readouterr().err == (
        f"{tmp_path / 'asyncapi.json'} n'est plus à jour avec le code : lancez `make docs` et faites-en un commit\n"
    )
    assert main(["docs", "events", "--output-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out == f"fichier écrit : {tmp_path / 'asyncapi.json'}\n"


def test_a_bad_setting_is_named_in_french_by_any_command_under_a_french_locale(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PARTERRE_MAX_BATCH_EVENTS", "0")

    assert main(["sources", "list"]) == 2
    assert capsys.readouterr().err == "erreur : PARTERRE_MAX_BATCH_EVENTS : doit être plus grand ou égal à 1\n"
