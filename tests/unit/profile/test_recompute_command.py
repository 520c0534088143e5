"""`parterre profile recompute`: how a run is named, the line it ends with, and what it refuses before reading
anything."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from services.profile.entrypoints.cli import recompute_summary
from services.profile.handlers import RECOMPUTE_RUN, RecomputeReport, new_recompute_run
from shared.cli import main


def test_a_run_is_named_by_the_moment_it_began_in_utc_and_two_begun_at_once_are_named_apart() -> None:
    montreal_evening = datetime(2026, 12, 3, 14, 52, 7, 123456, tzinfo=timezone(timedelta(hours=-5)))

    runs = {new_recompute_run(montreal_evening) for _ in range(20)}

    assert len(runs) == 20
    assert all(run.startswith("20261203T195207Z-") and RECOMPUTE_RUN.fullmatch(run) for run in runs)


def test_a_run_storing_every_profile_says_so_in_its_name() -> None:
    run = new_recompute_run(datetime(2026, 12, 4, 12, tzinfo=UTC), store_all=True)

    assert run.startswith("20261204T120000Z-")
    assert run.endswith("-all")
    assert RECOMPUTE_RUN.fullmatch(run)


@pytest.mark.parametrize(
    "named",
    [
        "20261203T195207Z",
        "20261203T195207Z-1A2B3C4D",
        "recompute:20261203T195207Z-1a2b3c4d",
        "20261203-1a2b3c4d",
        "20261203T195207Z-1a2b3c4d-al",
    ],
)
def test_only_a_name_a_run_is_given_is_a_run(named: str) -> None:
    assert RECOMPUTE_RUN.fullmatch(named) is None


def test_the_last_line_says_what_became_of_every_profile_visited() -> None:
    report = RecomputeReport(visited=1205, recomputed=1000, unchanged=200, merged_away=4, erased=1)

    assert recompute_summary(report) == (
        "visited 1,205 profiles: 1,000 recomputed, 200 unchanged, 5 skipped (4 merged into another profile, 1 erased)"
    )


def test_a_run_carried_on_counts_apart_what_it_announced_again_and_what_failed() -> None:
    report = RecomputeReport(visited=10, recomputed=2, unchanged=3, announced_again=4, failed=1)

    assert recompute_summary(report) == (
        "visited 10 profiles: 2 recomputed, 3 unchanged, 4 recomputed before the run was cut short, announced "
        "again, 0 skipped (0 merged into another profile, 0 erased), 1 failed"
    )


def test_a_run_carried_on_that_found_nothing_of_its_own_says_its_name_may_be_wrong() -> None:
    carried_on = RecomputeReport(visited=3, recomputed=1, unchanged=2)

    assert recompute_summary(carried_on, resumed=True) == (
        "visited 3 profiles: 1 recomputed, 2 unchanged, 0 skipped (0 merged into another profile, 0 erased); no "
        "profile still holds a change of this run: it stored none before it was cut short, the profiles it changed "
        "have changed again since, or --resume or --organisation is not what the run began with (its first line "
        "gives its name)"
    )
    # A new run has nothing of its own to find, and a run carried on that found some needs no word of it.
    assert "no profile still holds" not in recompute_summary(carried_on)
    assert "no profile still holds" not in recompute_summary(
        RecomputeReport(visited=3, announced_again=1, unchanged=2), resumed=True
    )


def test_a_run_storing_every_profile_counts_those_it_stored_again_and_carried_on_needs_no_word_of_its_name() -> None:
    report = RecomputeReport(visited=4, recomputed=1, stored_again=3)

    assert recompute_summary(report, resumed=True) == (
        "visited 4 profiles: 1 recomputed, 0 unchanged, 3 stored again as they were, 0 skipped (0 merged into another "
        "profile, 0 erased)"
    )


def test_a_run_carried_on_whose_profiles_failed_does_not_say_none_held_its_changes() -> None:
    # The profile that failed may be the one holding the run's change: its name may well be right.
    carried_on = RecomputeReport(visited=3, recomputed=1, unchanged=1, failed=1)

    assert recompute_summary(carried_on, resumed=True) == (
        "visited 3 profiles: 1 recomputed, 1 unchanged, 0 skipped (0 merged into another profile, 0 erased), 1 failed"
    )


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (
            ["profile", "recompute", "--organisation", "Théâtre du Nord"],
            "error: --organisation: organisation id 'Théâtre du Nord' must be 2-63 lower-case letters, digits or "
            "dashes\n",
        ),
        (
            ["profile", "reindex-lookups", "--organisation", "x"],
            "error: --organisation: organisation id 'x' must be 2-63 lower-case letters, digits or dashes\n",
        ),
        (
            ["profile", "recompute", "--resume", "yesterday"],
            "error: --resume: 'yesterday' names no run: a run is named as it begins, on the first line it writes, "
            "e.g. 20261203T195200Z-1a2b3c4d\n",
        ),
        (
            ["profile", "recompute", "--store-all", "--resume", "20261203T195207Z-1a2b3c4d"],
            "error: --store-all: the run 20261203T195207Z-1a2b3c4d did not store every profile: carry it on without "
            "--store-all, then begin a new run with it\n",
        ),
    ],
    ids=["organisation", "organisation-of-reindex", "run", "run-not-storing-all"],
)
def test_a_bad_organisation_or_run_is_refused_before_anything_is_read(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], argv: list[str], said: str
) -> None:
    # Nowhere to connect to: a command that went on would fail there, not with the refusal.
    monkeypatch.setenv("PARTERRE_MONGO_URL", "mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=1")
    monkeypatch.setenv("PARTERRE_KAFKA_BOOTSTRAP", "127.0.0.1:9")

    assert main(argv) == 2
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", said)


def test_the_last_line_says_in_french_what_became_of_every_profile_visited_each_word_agreeing_with_its_count() -> None:
    report = RecomputeReport(visited=1205, recomputed=1000, unchanged=1, announced_again=2, merged_away=1, erased=0)

    assert recompute_summary(report, language="fr") == (
        "1\u00a0205 profils visités : 1\u00a0000 recalculés, 1 inchangé, 2 recalculés avant l'interruption de "
        "l'exécution, annoncés de nouveau, 1 écarté (1 fusionné dans un autre profil, 0 effacé)"
    )


def test_a_run_carried_on_that_found_nothing_of_its_own_says_in_french_its_name_may_be_wrong() -> None:
    carried_on = RecomputeReport(visited=3, recomputed=1, unchanged=2, stored_again=0, failed=0)

    assert recompute_summary(carried_on, resumed=True, language="fr") == (
        "3 profils visités : 1 recalculé, 2 inchangés, 0 écarté (0 fusionné dans un autre profil, 0 effacé) ; aucun "
        "profil ne porte encore de changement de cette exécution : elle n'en avait enregistré aucun avant d'être "
        "interrompue, les profils qu'elle a changés ont changé de nouveau depuis, ou --resume ou --organisation n'est "
        "pas celui avec lequel elle a commencé (sa première ligne donne son nom)"
    )


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (
            ["profile", "recompute", "--organisation", "Théâtre du Nord"],
            "erreur : --organisation : l'identifiant d'organisation « Théâtre du Nord » doit compter de 2 à 63 "
            "lettres minuscules, chiffres ou tirets\n",
        ),
        (
            ["profile", "reindex-lookups", "--organisation", "x"],
            "erreur : --organisation : l'identifiant d'organisation « x » doit compter de 2 à 63 lettres minuscules, "
            "chiffres ou tirets\n",
        ),
        (
            ["profile", "recompute", "--resume", "yesterday"],
            "erreur : --resume : « yesterday » ne nomme aucune exécution : une exécution est nommée dès son début, "
            "sur la première ligne qu'elle écrit, par exemple 20261203T195200Z-1a2b3c4d\n",
        ),
        (
            ["profile", "recompute", "--store-all", "--resume", "20261203T195207Z-1a2b3c4d"],
            "erreur : --store-all : l'exécution 20261203T195207Z-1a2b3c4d n'enregistrait pas tous les profils : "
            "poursuivez-la sans --store-all, puis commencez-en une nouvelle avec cette option\n",
        ),
    ],
    ids=["organisation", "organisation-of-reindex", "run", "run-not-storing-all"],
)
@pytest.mark.usefixtures("french_locale")
def test_a_bad_organisation_or_run_is_refused_in_french_under_a_french_locale(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], argv: list[str], said: str
) -> None:
    monkeypatch.setenv("PARTERRE_MONGO_URL", "mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=1")
    monkeypatch.setenv("PARTERRE_KAFKA_BOOTSTRAP", "127.0.0.1:9")

    assert main(argv) == 2
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", said)


@pytest.mark.usefixtures("french_locale")
def test_a_run_says_in_french_how_to_carry_it_on_when_kafka_cannot_be_reached(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PARTERRE_KAFKA_BOOTSTRAP", "127.0.0.1:1")
    monkeypatch.setenv("PARTERRE_MONGO_URL", "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=1")

    assert main(["profile", "recompute", "--resume", "20261203T195207Z-1a2b3c4d"]) == 1
    said = capsys.readouterr().err.splitlines()
    assert said[0] == (
        "exécution du recalcul 20261203T195207Z-1a2b3c4d ; si elle est interrompue, poursuivez-la avec --resume "
        "20261203T195207Z-1a2b3c4d"
    )
    assert said[-1].startswith("erreur : Kafka : ")
    assert said[-1].endswith(" ; poursuivez l'exécution avec --resume 20261203T195207Z-1a2b3c4d")
