"""`parterre notify replay` asks in French, under a French locale, for what to replay."""

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
