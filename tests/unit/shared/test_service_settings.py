"""Settings that could never connect are refused at start-up with the setting named, not discovered later."""

import pytest
from pydantic import ValidationError

from shared.settings import ServiceSettings


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PARTERRE_KAFKA_BOOTSTRAP", ""),
        ("PARTERRE_KAFKA_BOOTSTRAP", " , "),
        ("PARTERRE_MONGO_URL", ""),
        ("PARTERRE_MONGO_DATABASE", ""),
        ("PARTERRE_MONGO_DATABASE", "parterre.prod"),
        ("PARTERRE_MONGO_DATABASE", "parterre prod"),
        ("PARTERRE_MONGO_DATABASE", "x" * 64),
    ],
)
def test_a_setting_naming_no_server_or_no_usable_database_is_refused(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)

    with pytest.raises(ValidationError) as refused:
        ServiceSettings()

    assert refused.value.errors()[0]["loc"] == (variable.removeprefix("PARTERRE_").lower(),)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("PARTERRE_KAFKA_BOOTSTRAP", "kafka-1:9092,kafka-2:9092"),
        ("PARTERRE_MONGO_URL", "mongodb://user:pw@db-1,db-2/?replicaSet=rs0"),
        ("PARTERRE_MONGO_DATABASE", "parterre_staging-2"),
    ],
)
def test_ordinary_connection_settings_are_accepted(monkeypatch: pytest.MonkeyPatch, variable: str, value: str) -> None:
    monkeypatch.setenv(variable, value)

    assert getattr(ServiceSettings(), variable.removeprefix("PARTERRE_").lower()) == value


def test_a_kafka_bootstrap_with_a_space_after_each_comma_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    # aiokafka strips each host: deployments written this way connected before the pattern existed.
    monkeypatch.setenv("PARTERRE_KAFKA_BOOTSTRAP", "kafka-1:9092, kafka-2:9092")

    assert ServiceSettings().kafka_bootstrap == "kafka-1:9092, kafka-2:9092"


def test_a_refused_mongo_url_is_reported_without_its_password(monkeypatch: pytest.MonkeyPatch) -> None:
    # Start-up errors land in the service's log: a password with a stray space must not be copied there.
    monkeypatch.setenv("PARTERRE_MONGO_URL", "mongodb://parterre:s3cret pass@db-1/")

    with pytest.raises(ValidationError) as refused:
        ServiceSettings()

    assert refused.value.errors()[0]["loc"] == ("mongo_url",)
    assert "s3cret" not in str(refused.value)
    assert "s3cret" not in repr(refused.value)


@pytest.mark.parametrize(
    "url",
    [
        "mongodb://parterre:p@ss@db-1/",
        "mongodb://parterre:100%sure@db-1/",
        "mongodb+srv://parterre:a:b@cluster0.example/",
    ],
)
def test_a_mongo_url_whose_password_is_not_escaped_is_refused_at_start_up(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv("PARTERRE_MONGO_URL", url)

    with pytest.raises(ValidationError) as refused:
        ServiceSettings()

    assert refused.value.errors()[0]["loc"] == ("mongo_url",)
    assert "escaped" in refused.value.errors()[0]["msg"]


@pytest.mark.parametrize(
    "url",
    [
        "mongodb://parterre:p%40ss%25w0rd@db-1:27017/parterre?authSource=admin",
        "mongodb+srv://parterre:p%3Ass@cluster0.example/?retryWrites=true",
        "mongodb://127.0.0.1:27017/",
        "mongodb://db-1/?readPreference=primary&appName=a@b",
    ],
)
def test_a_mongo_url_with_escaped_credentials_or_none_is_accepted(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    monkeypatch.setenv("PARTERRE_MONGO_URL", url)

    assert ServiceSettings().mongo_url == url
