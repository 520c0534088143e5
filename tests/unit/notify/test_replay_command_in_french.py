"""`parterre notify replay` asks in French, under a French locale, for what to replay, and says a store out of reach."""

import pytest

from services.notify.handlers import ReplayRefusedError
from services.notify.ports import DeliveryStatus
from shared.cli import main


@pytest.mark.usefixtures("french_locale")
def test_a_replay_naming_nothing_asks_in_french_for_deliveries_or_a_subscription(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PARTERRE_MONGO_URL", "mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=1")

    assert main(["notify", "replay", "--org", "theatre-du-nord"]) == 2
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", "nommez des livraisons par leur identifiant, ou --subscription\n")


@pytest.mark.parametrize(
    ("locale", "said"),
    [("C.UTF-8", "error: the store: "), ("fr_CA.UTF-8", "erreur : la base de données : ")],
)
def test_a_replay_whose_store_is_out_of_reach_says_so_in_a_line_in_the_locale_s_language(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], locale: str, said: str
) -> None:
    monkeypatch.setenv("LANG", locale)
    monkeypatch.setenv("PARTERRE_MONGO_URL", "mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=1")

    assert main(["notify", "replay", "--org", "theatre-du-nord", "dlv_1"]) == 1
    captured = capsys.readouterr()
    assert captured.err.startswith(said)
    assert "Traceback" not in captured.err


def test_a_replay_refused_says_every_status_in_french_words() -> None:
    french = {status: ReplayRefusedError(status).french for status in DeliveryStatus}

    assert french[DeliveryStatus.PENDING] == "en attente"
    assert [status for status, words in french.items() if not words or words == status.value] == []


@pytest.mark.parametrize(
    ("locale", "said"),
    [
        ("C.UTF-8", "error: PARTERRE_NOTIFY_SECRETS_KEY is not set, and this service listens on 0.0.0.0"),
        ("fr_CA.UTF-8", "erreur : PARTERRE_NOTIFY_SECRETS_KEY n'est pas défini, et ce service écoute sur 0.0.0.0"),
    ],
)
def test_a_replay_without_the_secrets_key_it_needs_says_so_in_a_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], locale: str, said: str
) -> None:
    monkeypatch.setenv("LANG", locale)
    monkeypatch.setenv("PARTERRE_HTTP_HOST", "0.0.0.0")
    monkeypatch.delenv("PARTERRE_NOTIFY_SECRETS_KEY", raising=False)
    monkeypatch.setenv("PARTERRE_MONGO_URL", "mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=1")

    assert main(["notify", "replay", "--org", "theatre-du-nord", "dlv_1"]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(said)
    assert captured.err.count("\n") == 1, "one line, no traceback"
