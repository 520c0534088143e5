"""`parterre profile sweep` and `reindex-lookups` end with a line saying what went wrong, and exit 1, when they fail."""

import pytest

from services.profile.entrypoints import cli as profile_cli
from services.profile.handlers import SweepReport
from shared.cli import main
from shared.events import Language


def test_a_sweep_that_cannot_reach_kafka_says_so_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PARTERRE_KAFKA_BOOTSTRAP", "127.0.0.1:1")
    monkeypatch.setenv("PARTERRE_MONGO_URL", "mongodb://127.0.0.1:1/")

    assert main(["profile", "sweep"]) == 1
    errors = capsys.readouterr().err
    assert "error: Kafka: " in errors
    assert "Traceback" not in errors


def test_a_reindex_that_cannot_reach_the_store_says_so_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PARTERRE_MONGO_URL", "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=1")

    assert main(["profile", "reindex-lookups"]) == 1
    errors = capsys.readouterr().err
    assert "error: the store: " in errors
    assert "Traceback" not in errors


def test_a_sweep_that_could_not_visit_some_profiles_exits_1_saying_how_many(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def sweep_with_failures(*_arguments: object) -> SweepReport:
        return SweepReport(slots=3, outcomes={"swept": 5, "failed": 2})

    monkeypatch.setattr(profile_cli, "_sweep", sweep_with_failures)

    assert main(["profile", "sweep"]) == 1
    output = capsys.readouterr()
    assert output.out == "swept 3 slots of time; profiles visited: 2 failed, 5 swept\n"
    assert output.err.startswith("error: 2 profiles could not be visited")


@pytest.mark.usefixtures("french_locale")
def test_a_sweep_that_cannot_reach_kafka_says_so_in_french_under_a_french_locale(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PARTERRE_KAFKA_BOOTSTRAP", "127.0.0.1:1")
    monkeypatch.setenv("PARTERRE_MONGO_URL", "mongodb://127.0.0.1:1/")

    assert main(["profile", "sweep"]) == 1
    [said] = [line for line in capsys.readouterr().err.splitlines() if line.startswith("erreur")]
    assert said.startswith("erreur : Kafka : ")
    assert said.endswith(" ; relancer la commande reprend le balayage là où celle-ci s'est arrêtée")


@pytest.mark.usefixtures("french_locale")
def test_a_reindex_that_cannot_reach_the_store_says_so_in_french_under_a_french_locale(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PARTERRE_MONGO_URL", "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=1")

    assert main(["profile", "reindex-lookups"]) == 1
    [said] = [line for line in capsys.readouterr().err.splitlines() if line.startswith("erreur")]
    assert said.startswith("erreur : la base de données : ")
    assert said.endswith(" ; relancer la commande ajoute ce que celle-ci n'a pas ajouté")


@pytest.mark.usefixtures("french_locale")
def test_a_sweep_says_in_french_what_became_of_the_profiles_and_how_many_it_could_not_visit(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def sweep_with_failures(*_arguments: object) -> SweepReport:
        return SweepReport(slots=1, outcomes={"swept": 1200, "failed": 1, "erased_person": 2})

    monkeypatch.setattr(profile_cli, "_sweep", sweep_with_failures)

    assert main(["profile", "sweep"]) == 1
    output = capsys.readouterr()
    assert output.out == "1 tranche de temps balayée ; profils visités : 2 effacés, 1 en échec, 1\u00a0200 balayés\n"
    assert output.err == (
        "erreur : 1 profil n'a pas pu être visité (voir plus haut) ; il est classé de nouveau, pour qu'un balayage "
        "l'essaie encore dans un quart d'heure, puis moins souvent après chaque échec consécutif (un jour d'écart au "
        "plus)\n"
    )


@pytest.mark.parametrize(
    ("done", "slots", "language", "said"),
    [
        (1, 1, "fr", "1 tranche sur 1"),
        (0, 96, "fr", "0 tranche sur 96"),
        (12, 1_344, "fr", "12 tranches sur 1\u00a0344"),
        (1, 1, "en", "1 of 1 slots"),
    ],
)
def test_a_sweep_s_progress_counts_its_slots_in_the_language_s_grammar(
    done: int, slots: int, language: Language, said: str
) -> None:
    assert profile_cli.slots_swept(done, slots, language) == said
