"""Settings every service shares, read from `PARTERRE_*` environment variables and validated at start-up."""

from typing import Annotated, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.bilingual import BilingualValueError, french_of_error, in_language, quoted
from shared.events import Language


def _known_time_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise BilingualValueError(
            en=f"{name!r} is no time zone: give an IANA name such as America/Montreal",
            fr=f"{quoted(name, 'fr')} n'est pas un fuseau horaire : donnez un nom IANA comme America/Montreal",
        ) from None
    return name


# An IANA time zone's name, checked when the settings are read.
TimeZoneName = Annotated[str, AfterValidator(_known_time_zone)]


def _escaped_credentials(url: str) -> str:
    # The user and password are split off as PyMongo splits them (at the last `@` before the first `/`), and checked
    # by its own rule: an `@`, `:` or `%` left unescaped would otherwise stop the service only once it connects.
    hosts = url.split("://", 1)[1].partition("/")[0]
    if "@" in hosts:
        # Only then: a command that never opens the store (`parterre identity resolve`) starts without the driver.
        from pymongo import uri_parser
        from pymongo.errors import InvalidURI

        try:
            uri_parser.parse_userinfo(hosts.rpartition("@")[0])
        except InvalidURI:
            raise BilingualValueError(
                en="its user name and password must be percent-escaped (`urllib.parse.quote_plus`): `@` as %40, "
                "`:` as %3A, `%` as %25",
                fr="son nom d'utilisateur et son mot de passe doivent être encodés en pourcentage "
                "(`urllib.parse.quote_plus`) : `@` en %40, `:` en %3A, `%` en %25",
            ) from None
    return url


def _empty_or_long_enough(token: SecretStr) -> SecretStr:
    if 0 < len(token.get_secret_value()) < 16:
        raise BilingualValueError(
            en="should be empty or at least 16 characters long", fr="doit être vide ou contenir au moins 16 caractères"
        )
    return token


class ServiceSettings(BaseSettings):
    """The base every service's settings class extends; one env prefix so one `.env` configures the stack."""

    # A refused value is never repeated in the error: it may be a password in a Mongo URL, a salt or a key.
    model_config = SettingsConfigDict(env_prefix="PARTERRE_", extra="ignore", frozen=True, hide_input_in_errors=True)

    service_name: ClassVar[str] = "parterre"

    kafka_bootstrap: str = Field(
        default="127.0.0.1:9092",
        pattern=r"^\s*[^\s,]+(\s*,\s*[^\s,]+)*\s*$",
        description="Kafka bootstrap servers, comma-separated host:port.",
    )
    kafka_namespace: str = Field(
        default="",
        pattern=r"^([a-z0-9][a-z0-9-]{0,30}\.)?$",
        description="Prefix of every topic and consumer group name (e.g. `staging.`), so that several platforms, "
        "or tests, share one Kafka without reading each other's events; empty for the catalog's names.",
    )
    mongo_url: Annotated[str, AfterValidator(_escaped_credentials)] = Field(
        default="mongodb://127.0.0.1:27017/",
        pattern=r"^mongodb(\+srv)?://\S+$",
        description="MongoDB connection string (MongoDB 7 or FerretDB 1.x).",
    )
    # MongoDB refuses an empty name, one over 63 bytes, and these characters: / \ . " $ * < > : | ? and spaces.
    mongo_database: str = Field(
        default="parterre",
        pattern=r"^[^/\\. \"$*<>:|?\x00]{1,63}$",
        description="Database holding Parterre's collections.",
    )
    http_host: str = Field(default="127.0.0.1", description="Interface the HTTP API listens on.")
    http_port: int = Field(default=8000, ge=1, le=65535, description="Port of the HTTP API.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(default="INFO", description="Log level.")
    log_format: Literal["json", "text"] = Field(
        default="json", description="`json` for machines, `text` for a person at a terminal."
    )
    consumer_max_attempts: int = Field(
        default=3, ge=1, le=20, description="Attempts at one message before it goes to the dead-letter topic."
    )
    consumer_retry_backoff_seconds: float = Field(
        default=0.5,
        ge=0,
        le=60,
        description="First pause between attempts; doubles after each failure, up to a minute.",
    )
    consumer_batch_max_records: int = Field(
        default=500, ge=1, le=10_000, description="Most records a consumer takes from Kafka at once."
    )
    consumer_batch_timeout_ms: int = Field(
        default=100,
        ge=1,
        le=10_000,
        description="How long a consumer's ask for records waits while none is there; it ends when one comes.",
    )
    consumer_lag_interval_seconds: float = Field(
        default=15, ge=0, le=3600, description="How often a service measures its consumer groups' lag; 0: never."
    )
    shutdown_timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        le=600,
        description="Longest wait for Kafka clients to close when the service stops, and for messages under way "
        "to finish (15 s at most; those cut short are delivered again).",
    )
    readiness_timeout_seconds: float = Field(
        default=2.0, gt=0, le=30, description="How long /readyz waits for Kafka and the store."
    )
    metrics_token: Annotated[SecretStr, AfterValidator(_empty_or_long_enough)] = Field(
        default=SecretStr(""),
        description="When set, `/metrics` answers only a request with `Authorization: Bearer <this token>` (in "
        "Prometheus, `authorization: {credentials_file: …}`): its figures name the organisations served, which a "
        "console reachable from outside would otherwise show anyone. Empty, it answers whoever reaches the port; "
        "else at least 16 characters.",
    )


def is_settings_error(error: ValidationError) -> bool:
    """Whether `error` is the settings' own (read from the environment when a process starts), the operator's to fix."""
    return error.title.endswith("Settings")


def settings_problems(error: ValidationError, language: Language) -> list[tuple[str, str]]:
    """Each bad setting's variable (`PARTERRE_…`) and what is wrong with it, in `language`. In French, a check of
    the project's says it in its own French words, and one of pydantic's as the API's 422 answers do; a check with
    no French yet keeps its English."""
    problems = []
    for problem in error.errors(include_url=False, include_input=False):
        if problem["loc"]:
            name = "PARTERRE_" + "_".join(str(part) for part in problem["loc"]).upper()
        else:
            # A check of several settings together names none of them; its message does.
            name = in_language(language, en="settings", fr="réglages")
        english = problem["msg"].removeprefix("Value error, ")
        problems.append((name, english if language == "en" else french_of_error(problem) or english))
    return problems
