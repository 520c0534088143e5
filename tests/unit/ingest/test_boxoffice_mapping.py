"""Column mappings: the usual headers are recognised, and a mapping file is checked line by line."""

from pathlib import Path

import pytest

from services.ingest.domain.boxoffice import (
    DEFAULT_HEADERS,
    BoxOfficeField,
    ColumnMapping,
    MappingFileError,
    RowKind,
    load_mapping,
)
from services.ingest.domain.boxoffice_mapping import header_key, mapping_text
from shared.cli import main
from shared.events import SalesChannel


def test_no_usual_header_means_two_fields() -> None:
    owners: dict[str, BoxOfficeField] = {}
    for name, headers in DEFAULT_HEADERS.items():
        for header in headers:
            owner = owners.setdefault(header_key(header), name)
            assert owner is name, f"{header!r} is a header of both {owner} and {name}"


def test_every_field_has_usual_headers() -> None:
    assert set(DEFAULT_HEADERS) == set(BoxOfficeField)


@pytest.mark.parametrize(
    ("written", "field"),
    [
        ("Prénom", BoxOfficeField.FIRST_NAME),
        ("First Name", BoxOfficeField.FIRST_NAME),
        ("firstName", BoxOfficeField.FIRST_NAME),
        ("Nom", BoxOfficeField.LAST_NAME),
        ("Surname", BoxOfficeField.LAST_NAME),
        ("Courriel", BoxOfficeField.EMAIL),
        ("E-mail", BoxOfficeField.EMAIL),
        ("Buyer Email", BoxOfficeField.EMAIL),
        ("Téléphone", BoxOfficeField.PHONE),
        ("Mobile Phone", BoxOfficeField.PHONE),
        ("Code postal", BoxOfficeField.POSTAL_CODE),
        ("Billing Zip", BoxOfficeField.POSTAL_CODE),
        ("postalCode", BoxOfficeField.POSTAL_CODE),
        ("Ville", BoxOfficeField.CITY),
        ("Spectacle", BoxOfficeField.SHOW),
        ("Event Name", BoxOfficeField.SHOW),
        ("Date de représentation", BoxOfficeField.PERFORMANCE_DATE),
        ("Heure de représentation", BoxOfficeField.PERFORMANCE_TIME),
        ("Heure du spectacle", BoxOfficeField.PERFORMANCE_TIME),
        ("Heure", BoxOfficeField.PERFORMANCE_TIME),
        ("Performance Time", BoxOfficeField.PERFORMANCE_TIME),
        ("Show time", BoxOfficeField.PERFORMANCE_TIME),
        ("Time", BoxOfficeField.PERFORMANCE_TIME),
        ("Salle", BoxOfficeField.VENUE),
        ("Venue Name", BoxOfficeField.VENUE),
        ("Montant", BoxOfficeField.AMOUNT),
        ("Total Paid", BoxOfficeField.AMOUNT),
        ("Ticket Price", BoxOfficeField.UNIT_PRICE),
        ("Quantité", BoxOfficeField.QUANTITY),
        ("Ticket Quantity", BoxOfficeField.QUANTITY),
        ("No de commande", BoxOfficeField.ORDER_ID),
        ("N° de commande", BoxOfficeField.ORDER_ID),
        ("Order #", BoxOfficeField.ORDER_ID),
        ("Order no.", BoxOfficeField.ORDER_ID),
        ("Transaction ID", BoxOfficeField.ORDER_ID),
        ("Langue", BoxOfficeField.LANGUAGE),
        ("Catégorie de billet", BoxOfficeField.PRICE_CATEGORY),
        ("Price Tier", BoxOfficeField.PRICE_CATEGORY),
        ("RateTitle", BoxOfficeField.PRICE_CATEGORY),
        ("Type", BoxOfficeField.TYPE),
    ],
)
def test_the_usual_french_and_english_headers_are_recognised(written: str, field: BoxOfficeField) -> None:
    located = ColumnMapping().locate(["Colonne inconnue", written])

    assert located[field].index == 1
    assert located[field].header == written


def test_when_a_file_has_two_headers_for_one_field_the_preferred_one_wins() -> None:
    located = ColumnMapping().locate(["Buyer First Name", "First Name"])

    assert located[BoxOfficeField.FIRST_NAME].header == "First Name"


def test_a_mapping_file_replaces_the_headers_of_the_fields_it_names_and_sets_the_options() -> None:
    mapping = load_mapping(
        """
columns:
  first_name: "Prénom client"
  email: [Courriel client, "Adresse de facturation (courriel)"]
date_format: "%d-%m-%Y"
timezone: America/Halifax
currency: USD
default_type: donation
default_language: en
channel: phone
"""
    )

    assert mapping.headers[BoxOfficeField.FIRST_NAME] == ("Prénom client",)
    assert mapping.headers[BoxOfficeField.EMAIL] == ("Courriel client", "Adresse de facturation (courriel)")
    assert mapping.headers[BoxOfficeField.CITY] == DEFAULT_HEADERS[BoxOfficeField.CITY]
    assert (mapping.date_format, mapping.timezone, mapping.currency) == ("%d-%m-%Y", "America/Halifax", "USD")
    assert (mapping.default_type, mapping.default_language, mapping.channel) == (
        RowKind.DONATION,
        "en",
        SalesChannel.PHONE,
    )
    assert mapping.explicit == {BoxOfficeField.FIRST_NAME, BoxOfficeField.EMAIL}


def test_a_performance_s_own_time_column_wins_over_a_column_headed_heure_alone() -> None:
    located = ColumnMapping().locate(["Heure", "Heure de représentation"])

    assert located[BoxOfficeField.PERFORMANCE_TIME].header == "Heure de représentation"


def test_a_mapping_file_names_the_performance_time_column() -> None:
    mapping = load_mapping("columns:\n  performance_time: [Début, Heure de début du spectacle]\n")

    assert mapping.headers[BoxOfficeField.PERFORMANCE_TIME] == ("Début", "Heure de début du spectacle")
    assert mapping.explicit == {BoxOfficeField.PERFORMANCE_TIME}
    assert mapping.locate(["Courriel", "Début"])[BoxOfficeField.PERFORMANCE_TIME].index == 1


def test_a_header_the_mapping_gives_one_field_is_not_taken_by_another_fields_usual_headers() -> None:
    mapping = load_mapping("columns:\n  show: Date\n")

    located = mapping.locate(["Date", "Date de commande"])

    assert located[BoxOfficeField.SHOW].header == "Date"
    assert located[BoxOfficeField.DATE].header == "Date de commande"


def test_an_empty_mapping_file_means_the_usual_headers() -> None:
    assert load_mapping("") == ColumnMapping()


@pytest.mark.parametrize(
    ("text", "line", "words", "mots"),
    [
        (
            "columns:\n  first_name: Prénom\n  prenom: Prénom client\n",
            3,
            "unknown field 'prenom'",
            "champ inconnu 'prenom'",
        ),
        ("columns:\n  email: Courriel\n  email: Adresse courriel\n", 3, "mapped twice", "associé deux fois"),
        (
            "columns:\n  email: Courriel\n  phone: courriel\n",
            3,
            "mapped to both 'email' and 'phone'",
            "associée à la fois à 'email' et à 'phone'",
        ),
        (
            "columns:\n  email: Courriel\ncolonnes: {}\n",
            3,
            "unknown setting 'colonnes'",
            "réglage inconnu 'colonnes'",
        ),
        ("timezone: Montréal/Québec\n", 1, "time zone", "fuseau horaire"),
        ("date_format: JJ/MM/AAAA\n", 1, "uses strftime codes", "codes de strftime"),
        ("currency: dollars\n", 1, "is not an ISO 4217", "n'est pas un code ISO 4217"),
        (
            "default_type: commandite\n",
            1,
            "ticket, donation, membership",
            "valeurs suivantes : ticket, donation, membership",
        ),
        ("default_language: es\n", 1, "fr or en", "fr ou en"),
        ("channel: kiosque\n", 1, "one of box_office", "valeurs suivantes : box_office"),
        ("columns:\n  email: [Courriel, {a: b}]\n", 2, "header text", "un en-tête"),
        ("columns: [email]\n", 1, "map field names", "associer des noms de champ"),
        ("columns:\n  email: Courriel\n currency: CAD\n", 3, "not valid YAML", "YAML non valide"),
        ("- just\n- a list\n", 1, "should be a mapping", "devrait être une correspondance"),
        ("currency: CAD\ncurrency: USD\n", 2, "set twice", "défini deux fois"),
        ("performance_date: 2026-10-17\n", 1, "gives no time", "ne donne pas d'heure"),
        ("performance_date: 30/02/2026 20:00\n", 1, "not a real calendar date", "n'existe pas au calendrier"),
    ],
)
def test_a_bad_mapping_file_is_refused_naming_the_line_and_the_problem_in_english_and_french(
    text: str, line: int, words: str, mots: str
) -> None:
    with pytest.raises(MappingFileError) as caught:
        load_mapping(text)

    [problem] = caught.value.problems
    assert problem.line == line
    assert words in problem.en
    assert mots in problem.fr
    assert f"line {line}:" in str(caught.value)
    assert f"ligne {line} :" in caught.value.fr


def test_every_problem_of_a_mapping_file_is_reported_at_once() -> None:
    with pytest.raises(MappingFileError) as caught:
        load_mapping("columns:\n  prenom: A\n  nom: B\ncurrency: dollars\n")

    assert [problem.line for problem in caught.value.problems] == [2, 3, 4]
    assert caught.value.fr.count("ligne ") == 3


@pytest.mark.parametrize("character", ["\x07", "\x0c", "\x1a", "\x90"])
def test_a_control_character_pasted_in_a_mapping_is_refused_on_its_line(character: str) -> None:
    with pytest.raises(MappingFileError) as raised:
        load_mapping(f"date_format: '%d/%m/%Y'\ncolumns:\n  email: Courriel{character}\n")

    [problem] = raised.value.problems
    assert problem.line == 3
    assert problem.en == f"holds a control character (U+{ord(character):04X}), which YAML does not allow: remove it"
    assert f"(U+{ord(character):04X})" in problem.fr


@pytest.mark.parametrize("date_format", ["%d/%m", "%d/%m %H:%M", "%H:%M", "%m/%Y"])
def test_a_date_format_without_a_whole_date_is_refused_as_it_would_date_every_row_in_1900(date_format: str) -> None:
    with pytest.raises(MappingFileError) as raised:
        load_mapping(f'date_format: "{date_format}"\n')

    assert "gives no whole date" in raised.value.problems[0].en


def test_the_import_command_refuses_a_bad_mapping_in_english_and_french_before_reading_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mapping = tmp_path / "colonnes.yaml"
    mapping.write_text("columns:\n  first_name: Prénom\ndevise: CAD\n", encoding="utf-8")

    exit_code = main(
        ["import", "boxoffice", str(tmp_path / "never-read.csv"), "--source", "billetterie", "--mapping", str(mapping)]
    )

    assert exit_code == 2
    english, french = capsys.readouterr().err.splitlines()
    assert english.startswith(f"error: {mapping}: line 3: unknown setting 'devise'; known settings: columns, ")
    assert french.startswith(f"erreur : {mapping} : ligne 3 : réglage inconnu 'devise' ; réglages connus : columns, ")


def test_a_mapping_file_that_is_missing_is_said_before_anything_connects(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "mapping typo.yaml"

    assert main(["sources", "set-mapping", "nord-billetterie", str(missing)]) == 2
    assert str(missing) in capsys.readouterr().err


@pytest.mark.parametrize("command", ["import", "set-mapping"])
def test_a_mapping_file_saved_as_windows_1252_is_refused_in_english_and_french_naming_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    mapping = tmp_path / "colonnes.yaml"
    mapping.write_bytes("columns:\n  first_name: Prénom client\n".encode("cp1252"))
    arguments = {
        "import": [
            "import",
            "boxoffice",
            str(tmp_path / "never-read.csv"),
            "--source",
            "nord",
            "--mapping",
            str(mapping),
        ],
        "set-mapping": ["sources", "set-mapping", "nord", str(mapping)],
    }[command]

    assert main(arguments) == 2
    english, french = capsys.readouterr().err.splitlines()
    assert (
        english
        == f"error: {mapping}: line 2: is not UTF-8 text: save the file as UTF-8 (in Notepad: Save as, Encoding: UTF-8)"
    )
    assert french.startswith(f"erreur : {mapping} : ligne 2 : n'est pas du texte UTF-8")


def test_a_mapping_file_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    assert mapping_text("\ufeffcolumns:\n  first_name: Prénom\n".encode()) == "columns:\n  first_name: Prénom\n"
