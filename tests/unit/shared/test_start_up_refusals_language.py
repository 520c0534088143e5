"""A service that cannot start for a bad setting or rules file says why in the operator's language: French under a
French locale, as `parterre` commands speak, English otherwise, as it always did."""

from collections.abc import Callable
from pathlib import Path
from textwrap import dedent
from typing import TypeVar

import pytest
from fastapi import FastAPI
from pydantic import BaseModel

from services.identity.bootstrap import create_app as create_identity
from services.identity.settings import IdentitySettings
from services.ingest.settings import IngestSettings
from services.notify.bootstrap import create_app as create_notify
from services.notify.settings import NotifySettings
from services.profile.bootstrap import create_app as create_profile
from services.profile.settings import ProfileSettings
from shared import service
from shared.settings import ServiceSettings
from shared.yaml_models import load_yaml_model
from tests.unit.test_service_start_refusals import BAD_TRIGGERS

SettingsT = TypeVar("SettingsT", bound=ServiceSettings)

FRENCH = "fr_CA.UTF-8"
ENGLISH = "en_US.UTF-8"


@pytest.fixture(autouse=True)
def no_logging_set_up(monkeypatch: pytest.MonkeyPatch) -> None:
    # `serve` sets the root logger up once the settings are read: not in the process that runs every test.
    monkeypatch.setattr(service, "configure_logging", lambda *_arguments: None)


def speaking(monkeypatch: pytest.MonkeyPatch, locale: str, **settings: str) -> None:
    for name in ("LC_ALL", "LC_MESSAGES", "LANGUAGE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", locale)
    for name, value in settings.items():
        monkeypatch.setenv(name, value)


def never_built(_settings: ServiceSettings) -> FastAPI:
    raise AssertionError("a service with a bad setting is never built")


def refusal(
    capsys: pytest.CaptureFixture[str],
    read_settings: type[SettingsT],
    build_app: Callable[[SettingsT], FastAPI] = never_built,
) -> str:
    with pytest.raises(SystemExit) as stopped:
        service.serve(read_settings, build_app)
    assert stopped.value.code == 2
    return capsys.readouterr().err


def test_a_bad_setting_stops_a_service_in_the_language_of_its_locale(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    speaking(monkeypatch, FRENCH, PARTERRE_LOG_LEVEL="LOUD", PARTERRE_PROFILE_TIMEZONE="Europe/Pariss")
    assert refusal(capsys, ProfileSettings) == (
        "erreur : PARTERRE_LOG_LEVEL : doit être l'une de ces valeurs : 'DEBUG', 'INFO', 'WARNING' ou 'ERROR'\n"
        "erreur : PARTERRE_PROFILE_TIMEZONE : « Europe/Pariss » n'est pas un fuseau horaire : donnez un nom IANA "
        "comme America/Montreal\n"
    )

    speaking(monkeypatch, ENGLISH)
    assert refusal(capsys, ProfileSettings) == (
        "error: PARTERRE_LOG_LEVEL: Input should be 'DEBUG', 'INFO', 'WARNING' or 'ERROR'\n"
        "error: PARTERRE_PROFILE_TIMEZONE: 'Europe/Pariss' is no time zone: give an IANA name such as "
        "America/Montreal\n"
    )


@pytest.mark.parametrize(
    ("settings", "variable", "value", "french", "english"),
    [
        (
            ServiceSettings,
            "PARTERRE_METRICS_TOKEN",
            "short",
            "doit être vide ou contenir au moins 16 caractères",
            "should be empty or at least 16 characters long",
        ),
        (
            ServiceSettings,
            "PARTERRE_MONGO_URL",
            "mongodb://box@office:p@ss@127.0.0.1/",
            "son nom d'utilisateur et son mot de passe doivent être encodés en pourcentage (`urllib.parse.quote_plus`) "
            ": `@` en %40, `:` en %3A, `%` en %25",
            "its user name and password must be percent-escaped (`urllib.parse.quote_plus`): `@` as %40, `:` as %3A, "
            "`%` as %25",
        ),
        (
            IdentitySettings,
            "PARTERRE_HTTP_PORT",
            "0",
            "doit être plus grand ou égal à 1",
            "Input should be greater than or equal to 1",
        ),
        (
            IdentitySettings,
            "PARTERRE_IDENTITY_CACHED_PATRONS",
            "many",
            "doit être un nombre entier",
            "Input should be a valid integer, unable to parse string as an integer",
        ),
    ],
    ids=["own-check", "own-check-of-the-store-url", "pydantic-range", "pydantic-number"],
)
def test_each_check_of_a_setting_says_its_problem_in_either_language(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    settings: type[ServiceSettings],
    variable: str,
    value: str,
    french: str,
    english: str,
) -> None:
    speaking(monkeypatch, FRENCH, **{variable: value})
    assert refusal(capsys, settings) == f"erreur : {variable} : {french}\n"

    speaking(monkeypatch, ENGLISH)
    assert refusal(capsys, settings) == f"error: {variable}: {english}\n"


def test_a_check_of_two_settings_together_names_the_settings_in_french(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    speaking(monkeypatch, FRENCH, PARTERRE_CLAIM_ABANDONED_AFTER_SECONDS="5", PARTERRE_PUBLISH_TIMEOUT_SECONDS="10")

    assert refusal(capsys, IngestSettings) == (
        "erreur : réglages : claim_abandoned_after_seconds doit être plus long que publish_timeout_seconds : des "
        "événements réservés, crus abandonnés alors que leur envoi attend encore Kafka, seraient publiés deux fois\n"
    )


class Segments(BaseModel):
    segments: dict[str, int] = {}


def segments_with_a_name_given_twice(_settings: ServiceSettings) -> FastAPI:
    text = """\
        segments:
          donors: 1
          donors: 2
        """
    load_yaml_model(dedent(text), Segments, file_name="segments.yaml")
    raise AssertionError("the file was read")


@pytest.mark.parametrize(
    ("locale", "said"),
    [
        (FRENCH, "erreur : segments.yaml, ligne 3 : `donors` est donné deux fois au même endroit\n"),
        (ENGLISH, "error: segments.yaml, line 3: `donors` is given twice in one place\n"),
    ],
)
def test_a_rules_file_with_a_mistake_stops_a_service_in_the_locale_s_language(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], locale: str, said: str
) -> None:
    speaking(monkeypatch, locale)

    assert refusal(capsys, ServiceSettings, segments_with_a_name_given_twice) == said


def test_a_trigger_file_s_own_check_stops_the_profile_service_in_french(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    triggers = tmp_path / "triggers.yaml"
    triggers.write_text(BAD_TRIGGERS, encoding="utf-8")
    speaking(monkeypatch, FRENCH, PARTERRE_PROFILE_TRIGGERS_FILE=str(triggers))

    assert refusal(capsys, ProfileSettings, create_profile) == (
        f"erreur : {triggers}, ligne 5 : `triggers.lapsed-donor.when.value` : `monts` n'est pas une unité de temps ; "
        "utilisez heures, jours, semaines, mois ou ans (hours, days, weeks, months, years)\n"
    )

    speaking(monkeypatch, ENGLISH)
    assert refusal(capsys, ProfileSettings, create_profile) == (
        f"error: {triggers}, line 5: `triggers.lapsed-donor.when.value`: `monts` is not a unit of time; use hours, "
        "days, weeks, months or years (heures, jours, semaines, mois, ans)\n"
    )


def test_a_match_model_file_s_own_check_stops_the_identity_service_in_french(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    model = tmp_path / "match_model.yaml"
    model.write_text("bands:\n  link_at: 0.9\n  review_at: 0.95\n", encoding="utf-8")
    speaking(monkeypatch, FRENCH, PARTERRE_IDENTITY_MATCH_MODEL_FILE=str(model))

    assert refusal(capsys, IdentitySettings, create_identity) == (
        f"erreur : {model}, ligne 1 : les seuils demandent 0 < review_at <= link_at < 1, pas 0.95 et 0.9\n"
    )


@pytest.mark.parametrize(
    ("locale", "said"),
    [
        (ENGLISH, "error: PARTERRE_NOTIFY_SECRETS_KEY is not set, and this service listens on 0.0.0.0, beyond "),
        (FRENCH, "erreur : PARTERRE_NOTIFY_SECRETS_KEY n'est pas défini, et ce service écoute sur 0.0.0.0, au-delà "),
    ],
)
def test_notify_listening_beyond_this_machine_without_a_secrets_key_stops_with_a_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], locale: str, said: str
) -> None:
    speaking(monkeypatch, locale, PARTERRE_HTTP_HOST="0.0.0.0")
    monkeypatch.delenv("PARTERRE_NOTIFY_SECRETS_KEY", raising=False)

    shown = refusal(capsys, NotifySettings, create_notify)

    assert shown.startswith(said)
    assert shown.count("\n") == 1, "one line, no traceback"
