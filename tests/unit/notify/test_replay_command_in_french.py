"""`parterre notify replay` asks in French, under a French locale, for what to replay, and says a store out of reach."""

import pytest

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
