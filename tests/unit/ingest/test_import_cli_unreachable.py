"""`parterre import boxoffice` with its store out of reach: a message saying what became of the import, in the
language of the terminal, and the exit status of a server out of reach, never a traceback."""

from pathlib import Path

import pytest

from shared.cli import main

# No server listens on port 1: the connection is refused at once, and the store is given up at once.
UNREACHABLE_STORE = "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=1"


@pytest.mark.parametrize(
    ("locale", "said"),
    [
        (
            "en_CA.UTF-8",
            "error: the import was interrupted: events cannot be stored right now. Run the import again later; "
            "rows already imported will not be duplicated. (the store: ",
        ),
        (
            "fr_CA.UTF-8",
            "erreur : l'importation a été interrompue : les événements ne peuvent être enregistrés pour l'instant. "
            "Relancez l'importation plus tard ; les lignes déjà importées ne seront pas dupliquées. "
            "(la base de données : ",
        ),
    ],
    ids=["english", "french"],
)
def test_an_import_whose_store_cannot_be_reached_says_nothing_is_lost_in_the_terminals_language(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], locale: str, said: str
) -> None:
    export = tmp_path / "export.csv"
    export.write_text("Prénom;Nom;Courriel;Montant\nHélène;D'Amours;helene@example.ca;40,50 $\n", encoding="utf-8")
    for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", locale)
    monkeypatch.setenv("PARTERRE_MONGO_URL", UNREACHABLE_STORE)

    code = main(["import", "boxoffice", str(export), "--source", "billetterie"])

    shown = capsys.readouterr().err
    assert code == 1
    assert shown.startswith(said)
    assert "Traceback" not in shown
