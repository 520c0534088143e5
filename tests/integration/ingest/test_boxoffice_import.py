"""Box-office imports through the upload endpoint and the CLI, on the real Kafka and store."""

import asyncio
import io
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from aiokafka.errors import KafkaConnectionError

from services.ingest.domain.sources import Source, SourceKind
from services.ingest.handlers import ImportSummary, import_boxoffice
from services.ingest.ports import EventSink
from shared.cli import main
from shared.events import Envelope
from shared.settings import ServiceSettings
from tests.integration.ingest.conftest import IngestHarness
from tests.integration.kafka_support import TopicTail

pytestmark = [pytest.mark.kafka, pytest.mark.mongo]

HEADER = "Prénom;Nom;Courriel;Spectacle;Date de représentation;Montant;Quantité;No de commande"
# (column, the code it is rejected with, the cell's position, the broken value)
BREAKAGES: tuple[tuple[str, str, int, str], ...] = (
    ("Date de représentation", "date_unreadable", 4, "31/02/2026"),
    ("Montant", "amount_unreadable", 5, "quarante-cinq"),
    ("Quantité", "quantity_invalid", 6, "0"),
)


def french_export(rows: int, broken_every: int) -> tuple[bytes, dict[int, tuple[str, str]]]:
    """A Windows-1252, `;`-separated export; every `broken_every`-th row is broken in one of three ways."""
    lines = [HEADER]
    broken: dict[int, tuple[str, str]] = {}
    for number in range(rows):
        cells = [
            "Hélène" if number % 2 else "Jean-François",
            "D'Amours" if number % 3 else "Côté",
            f"patron{number}@example.ca",
            "Les Belles-sœurs" if number % 4 else "Le Dîner de cons",
            f"{1 + number % 28:02d}/10/2026 19:30",
            f"{40 + number % 60},50 $",
            str(1 + number % 4),
            f"CMD-{number:06d}",
        ]
        if number % broken_every == broken_every - 1:
            column, code, position, value = BREAKAGES[(number // broken_every) % len(BREAKAGES)]
            cells[position] = value
            broken[number + 2] = (column, code)  # the header is row 1
        lines.append(";".join(cells))
    return "\r\n".join(lines).encode("cp1252"), broken


async def upload(ingest: IngestHarness, body: bytes, dry_run: bool = False) -> dict[str, object]:
    response = await ingest.client.post(
        f"/v1/imports/boxoffice/{ingest.organisation_id}-boxoffice",
        content=body,
        params={"dry_run": str(dry_run).lower()},
        headers={"Content-Type": "text/csv", **ingest.authorised()},
        timeout=300,
    )
    assert response.status_code == 200, response.text
    report: dict[str, object] = response.json()
    return report


async def test_a_10000_row_export_with_3_percent_broken_rows_yields_exactly_the_valid_rows_and_names_each_broken_one(
    ingest: IngestHarness, facts: TopicTail
) -> None:
    body, broken = french_export(10_000, broken_every=33)
    report = await upload(ingest, body)

    valid = 10_000 - len(broken)
    assert len(broken) == 303
    assert (report["rows_read"], report["accepted"], report["rejected"]) == (10_000, valid, len(broken))
    assert report["published"] == valid
    assert report["rejections_by_reason"] == {
        code: sum(1 for _, found in broken.values() if found == code) for _, code, _, _ in BREAKAGES
    }
    for example in report["first_rejections"]:  # type: ignore[attr-defined]
        assert broken[example["row"]] == (example["column"], example["code"])
    records = await facts.read(expected=valid, deadline_seconds=120)
    assert len(records) == valid
    assert len({Envelope.from_json_bytes(record.value).id for record in records}) == valid


async def test_importing_the_same_file_again_publishes_nothing_new(ingest: IngestHarness, facts: TopicTail) -> None:
    body, broken = french_export(500, broken_every=50)

    first = await upload(ingest, body)
    await facts.read(expected=500 - len(broken))
    again = await upload(ingest, body)

    assert first["published"] == 500 - len(broken)
    assert (again["published"], again["duplicates"]) == (0, 500 - len(broken))
    assert await facts.read_quietly(2) == []


async def test_a_dry_run_reports_without_publishing(ingest: IngestHarness, facts: TopicTail) -> None:
    body, _ = french_export(100, broken_every=10)

    report = await upload(ingest, body, dry_run=True)

    assert (report["accepted"], report["rejected"], report["published"]) == (90, 10, 0)
    assert await facts.read_quietly(1) == []


async def test_a_file_without_a_required_column_is_refused_whole_in_both_languages(ingest: IngestHarness) -> None:
    response = await ingest.client.post(
        f"/v1/imports/boxoffice/{ingest.organisation_id}-boxoffice",
        content="Prénom;Nom;Courriel\r\nHélène;D'Amours;h@example.ca\r\n".encode(),
        headers={"Content-Type": "text/csv", **ingest.authorised()},
    )

    assert response.status_code == 422
    assert set(response.json()["detail"]["message"]) == {"en", "fr"}


async def test_another_organisations_source_cannot_be_imported_into(ingest: IngestHarness) -> None:
    await ingest.context.sources.create(Source("elsewhere-boxoffice", "festival-sud", SourceKind.BOXOFFICE))
    body, _ = french_export(3, broken_every=100)

    response = await ingest.client.post(
        "/v1/imports/boxoffice/elsewhere-boxoffice", content=body, headers=ingest.authorised()
    )

    assert response.status_code == 404


def _cli_uses(settings: ServiceSettings, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI, run in this process, reads its servers and database from the environment: the test's."""
    monkeypatch.setenv("PARTERRE_KAFKA_BOOTSTRAP", settings.kafka_bootstrap)
    monkeypatch.setenv("PARTERRE_MONGO_URL", settings.mongo_url)
    monkeypatch.setenv("PARTERRE_MONGO_DATABASE", settings.mongo_database)


async def test_the_cli_imports_through_the_same_code_path_and_reports(
    ingest: IngestHarness,
    facts: TopicTail,
    settings: ServiceSettings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    body, _ = french_export(200, broken_every=20)
    export = tmp_path / "export.csv"
    export.write_bytes(body)
    _cli_uses(settings, monkeypatch)
    arguments = ["import", "boxoffice", str(export), "--source", f"{ingest.organisation_id}-boxoffice", "--json"]

    exit_code = await asyncio.to_thread(main, arguments)

    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert exit_code == 0
    assert (report["accepted"], report["rejected"], report["published"]) == (190, 10, 190)
    assert "rows/s" in captured.err
    assert len(await facts.read(expected=190)) == 190
    assert await asyncio.to_thread(main, ["import", "boxoffice", str(tmp_path / "missing.csv"), "--source", "x"]) == 2


async def test_the_cli_whose_kafka_cannot_be_reached_says_nothing_is_lost_and_running_it_again_duplicates_nothing(
    ingest: IngestHarness,
    facts: TopicTail,
    settings: ServiceSettings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    body, _ = french_export(6, broken_every=1_000)
    export = tmp_path / "export.csv"
    export.write_bytes(body)
    _cli_uses(settings, monkeypatch)
    monkeypatch.setenv("LANG", "fr_CA.UTF-8")
    for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES"):
        monkeypatch.delenv(name, raising=False)
    arguments = ["import", "boxoffice", str(export), "--source", f"{ingest.organisation_id}-boxoffice", "--json"]
    # No broker listens on port 1.
    monkeypatch.setenv("PARTERRE_KAFKA_BOOTSTRAP", "127.0.0.1:1")

    interrupted = await asyncio.to_thread(main, arguments)
    shown = capsys.readouterr().err
    monkeypatch.setenv("PARTERRE_KAFKA_BOOTSTRAP", settings.kafka_bootstrap)
    again = await asyncio.to_thread(main, arguments)

    assert interrupted == 1
    assert (
        "erreur : l'importation a été interrompue : les événements ne peuvent être enregistrés pour l'instant. "
        "Relancez l'importation plus tard ; les lignes déjà importées ne seront pas dupliquées. (Kafka : "
    ) in shown
    assert "Traceback" not in shown
    assert again == 0
    assert json.loads(capsys.readouterr().out)["published"] == 6
    assert len(await facts.read(expected=6)) == 6


WITHOUT_ORDER_NUMBERS = (
    "Prénom;Nom;Courriel;Spectacle;Date de représentation;Montant\r\n"
    "Hélène;D'Amours;helene@example.ca;Gala;03/10/2026 19:30;40,50 $\r\n"
    "Luc;Côté;luc@exemple.ca;Gala;03/10/2026 19:30;20,00 $\r\n"
)


async def test_an_upload_of_rows_without_order_numbers_says_a_corrected_row_would_count_twice(
    ingest: IngestHarness, facts: TopicTail
) -> None:
    first = await upload(ingest, WITHOUT_ORDER_NUMBERS.encode())
    await facts.read(expected=2)
    # The typo fixed in the box office, the file exported and imported again: the row is another one now.
    corrected = await upload(ingest, WITHOUT_ORDER_NUMBERS.replace("luc@exemple.ca", "luc@example.ca").encode())

    assert (first["published"], first["named_by_content"]) == (2, 2)
    notices = first["notices"]
    assert isinstance(notices, list)
    [notice] = [notice for notice in notices if notice["code"] == "named_by_content"]
    assert notice["code"] == "named_by_content"
    assert notice["message"].startswith("2 accepted rows have no order number")
    assert notice["message_fr"].startswith("2 lignes acceptées n'ont pas de numéro de commande")
    assert (corrected["published"], corrected["duplicates"]) == (1, 1)
    assert len(await facts.read(expected=1)) == 1


@pytest.mark.parametrize(
    ("locale", "said", "not_said"),
    [
        ("C.UTF-8", ["note: 2 accepted rows have no order number", "events published   2"], "à noter"),
        (
            "fr_CA.UTF-8",
            ["à noter : 2 lignes acceptées n'ont pas de numéro de commande", "événements publiés  2", "lignes lues"],
            "note:",
        ),
    ],
)
async def test_the_cli_reports_in_the_language_of_the_locale(
    ingest: IngestHarness,
    facts: TopicTail,
    settings: ServiceSettings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    locale: str,
    said: list[str],
    not_said: str,
) -> None:
    export = tmp_path / "export.csv"
    export.write_text(WITHOUT_ORDER_NUMBERS, encoding="utf-8")
    _cli_uses(settings, monkeypatch)
    monkeypatch.setenv("LANG", locale)

    exit_code = await asyncio.to_thread(
        main, ["import", "boxoffice", str(export), "--source", f"{ingest.organisation_id}-boxoffice"]
    )

    shown = capsys.readouterr().out
    assert exit_code == 0
    assert [line for line in said if line not in shown] == []
    assert not_said not in shown
    assert len(await facts.read(expected=2)) == 2


async def test_an_upload_uses_the_column_mapping_stored_with_its_source(
    ingest: IngestHarness,
    facts: TopicTail,
    settings: ServiceSettings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    unusual = "Client prénom;Client nom;Adresse électronique;Titre;Quand;Total;Nb;Réf\r\n"
    body = (unusual + "Hélène;Côté;helene@example.ca;Les Belles-sœurs;03/10/2026 19:30;45,50 $;2;CMD-1\r\n").encode()
    source_id = f"{ingest.organisation_id}-boxoffice"
    refused = await ingest.client.post(
        f"/v1/imports/boxoffice/{source_id}", content=body, headers={"Content-Type": "text/csv", **ingest.authorised()}
    )
    mapping = tmp_path / "columns.yaml"
    mapping.write_text(
        "columns:\n  first_name: Client prénom\n  last_name: Client nom\n  email: Adresse électronique\n"
        "  show: Titre\n  performance_date: Quand\n  amount: Total\n  quantity: Nb\n  order_id: Réf\n"
    )
    broken = tmp_path / "broken.yaml"
    broken.write_text("columns:\n  first_name: Client prénom\n  shoe_size: Pointure\n")
    monkeypatch.setenv("PARTERRE_MONGO_URL", settings.mongo_url)
    monkeypatch.setenv("PARTERRE_MONGO_DATABASE", settings.mongo_database)

    bad_code = await asyncio.to_thread(main, ["sources", "set-mapping", source_id, str(broken)])
    bad_message = capsys.readouterr().err
    stored_code = await asyncio.to_thread(main, ["sources", "set-mapping", source_id, str(mapping)])
    accepted = await upload(ingest, body)

    assert refused.status_code == 422
    assert bad_code == 2
    assert "line 3: unknown field 'shoe_size'" in bad_message
    assert "ligne 3 : champ inconnu 'shoe_size'" in bad_message
    assert stored_code == 0
    assert (accepted["accepted"], accepted["rejected"]) == (1, 0)
    [published] = await facts.read(expected=1)
    assert Envelope.from_json_bytes(published.value).data["person"]["email"] == "helene@example.ca"


async def test_rows_repeated_across_chunks_published_together_are_duplicates_and_kafka_keeps_the_files_order(
    ingest: IngestHarness, facts: TopicTail
) -> None:
    # Chunks of 4 rows: while one chunk is published, the next is claimed, so a row repeated in the next chunk
    # meets its own claim unconfirmed; rows repeated further away meet a confirmed one.
    body, _ = french_export(40, broken_every=1_000)
    lines = body.decode("cp1252").split("\r\n")
    order = [*range(1, 9), 5, 6, 7, 8, *range(9, 41), 1, 2, 40]
    export = "\r\n".join([lines[0], *(lines[number] for number in order)]).encode("cp1252")
    context = ingest.context
    source = await context.sources.find(f"{ingest.organisation_id}-boxoffice")
    assert source is not None

    summary = await import_boxoffice(
        io.BytesIO(export),
        source=source,
        mapping=None,
        imported_at=datetime.now(UTC),
        dry_run=False,
        sink=context.sink,
        ledger=context.ledger,
        metrics=context.metrics,
        chunk_rows=4,
    )

    assert (summary.report.rows_read, summary.published, summary.duplicates) == (47, 40, 7)
    records = await facts.read(expected=40)
    orders_by_partition: dict[int, list[str]] = {}
    for record in records:
        orders_by_partition.setdefault(record.partition, []).append(str(Envelope.from_json_bytes(record.value).subject))
    assert sum(map(len, orders_by_partition.values())) == 40
    for orders in orders_by_partition.values():
        assert orders == sorted(orders)
    assert await facts.read_quietly(2) == []


class KafkaFailingAfter:
    """A sink whose publications after the first `healthy` fail, as Kafka going away mid-import makes them."""

    def __init__(self, inner: EventSink, healthy: int) -> None:
        self._inner = inner
        self._healthy = healthy

    async def publish(self, envelopes: Sequence[Envelope]) -> None:
        if self._healthy == 0:
            raise KafkaConnectionError("the broker went away")
        self._healthy -= 1
        await self._inner.publish(envelopes)


async def test_an_import_stopped_by_kafka_leaves_no_claim_in_flight_and_a_second_import_publishes_the_rest(
    ingest: IngestHarness, facts: TopicTail
) -> None:
    body, _ = french_export(24, broken_every=1_000)
    context = ingest.context
    source = await context.sources.find(f"{ingest.organisation_id}-boxoffice")
    assert source is not None

    async def run(sink: EventSink) -> ImportSummary:
        return await import_boxoffice(
            io.BytesIO(body),
            source=source,
            mapping=None,
            imported_at=datetime.now(UTC),
            dry_run=False,
            sink=sink,
            ledger=context.ledger,
            metrics=context.metrics,
            chunk_rows=4,
        )

    with pytest.raises(KafkaConnectionError):
        await run(KafkaFailingAfter(context.sink, healthy=2))
    again = await run(context.sink)

    assert (again.published, again.duplicates) == (16, 8)
    assert len(await facts.read(expected=24)) == 24


async def test_a_stored_mapping_the_checks_now_refuse_stops_an_import_naming_the_source_in_english_and_french(
    ingest: IngestHarness,
    settings: ServiceSettings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Stored by a version that checked less: a date format without a year dates every row in 1900.
    source_id = f"{ingest.organisation_id}-boxoffice"
    await ingest.context.sources.set_column_mapping(source_id, 'date_format: "%d/%m"\n')
    export = tmp_path / "ventes.csv"
    export.write_bytes(b"Prenom;Nom;Courriel\r\nAnne;Roy;anne@example.ca\r\n")
    monkeypatch.setenv("PARTERRE_MONGO_URL", settings.mongo_url)
    monkeypatch.setenv("PARTERRE_MONGO_DATABASE", settings.mongo_database)

    exit_code = await asyncio.to_thread(main, ["import", "boxoffice", str(export), "--source", source_id, "--dry-run"])
    english, french = capsys.readouterr().err.splitlines()[-2:]
    uploaded = await ingest.client.post(
        f"/v1/imports/boxoffice/{source_id}",
        content=export.read_bytes(),
        headers={"Content-Type": "text/csv", **ingest.authorised()},
    )

    assert exit_code == 2
    assert english.startswith(f"error: the column mapping stored for {source_id}: line 1: 'date_format'")
    assert french.startswith(f"erreur : la correspondance de colonnes enregistrée pour {source_id} : ligne 1 :")
    assert uploaded.status_code == 409
    assert uploaded.json()["detail"]["code"] == "mapping_refused"
    assert "ligne 1 :" in uploaded.json()["detail"]["message"]["fr"]
