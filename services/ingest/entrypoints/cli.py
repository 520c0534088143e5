"""`parterre sources …` and `parterre import boxoffice …`: the ingest service's command-line tasks."""

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from aiokafka.errors import KafkaError
from prometheus_client import CollectorRegistry
from pymongo.errors import PyMongoError

from services.ingest.adapters.kafka_sink import KafkaEventSink
from services.ingest.adapters.mongo import (
    EVENT_CLAIMS,
    PUBLISHED_EVENTS,
    SOURCES,
    MongoPublicationLedger,
    MongoSourceRegistry,
)
from services.ingest.domain.boxoffice import CsvFormatError
from services.ingest.domain.boxoffice_mapping import ColumnMapping, MappingFileError, load_mapping, mapping_text
from services.ingest.domain.sources import Source, SourceKind, mint_source_key, source_mapping, validate_source_id
from services.ingest.handlers import EventsInFlightError, ImportSummary, import_boxoffice
from services.ingest.metrics import IngestMetrics
from services.ingest.settings import IngestSettings
from shared.bilingual import (
    BilingualValueError,
    format_count,
    french_count,
    in_language,
    language_of_environment,
    os_error,
)
from shared.events import Language
from shared.kafka import BulkKafkaPublisher
from shared.mongo import mongo_client
from shared.progress import ProgressLine
from shared.tokens import OrganisationIdError, validate_organisation_id


def register(commands: Any) -> None:
    sources = commands.add_parser("sources", help="upstream systems and their credentials")
    actions = sources.add_subparsers(dest="action", required=True)

    create = actions.add_parser("create", help="register an upstream system for an organisation")
    create.add_argument("source_id", help="a unique slug, used in webhook URLs, e.g. nord-shopify")
    create.add_argument("--org", required=True, help="the organisation it belongs to")
    create.add_argument("--kind", required=True, choices=[kind.value for kind in SourceKind])
    create.add_argument("--signing-secret", help="for Shopify: the app's secret that signs its webhooks")
    create.set_defaults(run=_run_sources)

    rotate = actions.add_parser("rotate", help="add a new credential; the previous one stays valid until next time")
    rotate.add_argument("source_id")
    rotate.add_argument("--signing-secret", help="for Shopify: the new app secret; otherwise a new key is made")
    rotate.set_defaults(run=_run_sources)

    mapping = actions.add_parser(
        "set-mapping", help="store a box office's column mapping, used by uploads over HTTP and by default by imports"
    )
    mapping.add_argument("source_id")
    mapping.add_argument("file", type=Path, nargs="?", help="the YAML mapping file (see the README)")
    mapping.add_argument("--clear", action="store_true", help="remove the stored mapping: the usual headers apply")
    mapping.set_defaults(run=_run_sources)

    listing = actions.add_parser("list", help="list sources (never their credentials)")
    listing.add_argument("--org")
    listing.set_defaults(run=_run_sources)

    imports = commands.add_parser("import", help="import an upstream system's export").add_subparsers(
        dest="format", required=True
    )
    boxoffice = imports.add_parser("boxoffice", help="a box-office CSV export (French or English, any usual form)")
    boxoffice.add_argument("file", type=Path, help="the CSV file")
    boxoffice.add_argument("--source", required=True, help="the box-office source id (see `parterre sources`)")
    boxoffice.add_argument("--mapping", type=Path, help="a YAML file naming the columns, when the defaults miss them")
    boxoffice.add_argument("--dry-run", action="store_true", help="check the file and report; publish nothing")
    boxoffice.add_argument("--json", action="store_true", help="print the final report as JSON")
    boxoffice.set_defaults(run=_run_import)


def _say_error(language: Language, *, en: str, fr: str) -> None:
    print(in_language(language, en=f"error: {en}", fr=f"erreur : {fr}"), file=sys.stderr)


def _run_sources(arguments: argparse.Namespace) -> int:
    from pymongo.errors import PyMongoError

    language = language_of_environment()
    # Read first: a bad setting is the environment's to fix, said by `parterre` naming its variable.
    settings = IngestSettings()
    try:
        # A mapping file is read and checked before anything connects: a typo is said at once.
        mapping = _checked_mapping(arguments.file) if getattr(arguments, "file", None) is not None else None
        return asyncio.run(_sources(arguments, settings, mapping, language))
    except MappingFileError as exc:
        print(_mapping_refused(arguments.file, arguments.source_id, exc), file=sys.stderr)
        return 2
    except BilingualValueError as exc:
        _say_error(language, en=exc.en, fr=exc.fr)
        return 2
    except OrganisationIdError as exc:
        _say_error(language, en=str(exc), fr=exc.fr)
        return 2
    except OSError as exc:
        _say_error(language, en=str(exc), fr=os_error(exc, "fr"))
        return 2
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except PyMongoError as exc:
        _say_error(language, en=f"the store: {exc}", fr=f"la base de données : {exc}")
        return 1


def _mapping_refused(path: Path | None, source_id: str, exc: MappingFileError) -> str:
    """A mapping's problems in English, then in French: the staff who write these files read either. Without a
    file, the mapping is the one stored for the source (by a version that checked less)."""
    if path is None:
        return (
            f"error: the column mapping stored for {source_id}: {exc}; store a corrected one with "
            f"`parterre sources set-mapping`\nerreur : la correspondance de colonnes enregistrée pour {source_id} : "
            f"{exc.fr} ; enregistrez-en une corrigée avec `parterre sources set-mapping`"
        )
    return f"error: {path}: {exc}\nerreur : {path} : {exc.fr}"


def _checked_mapping(path: Path) -> str:
    text = mapping_text(path.read_bytes())
    load_mapping(text)
    return text


async def _sources(
    arguments: argparse.Namespace, settings: IngestSettings, mapping: str | None, language: Language = "en"
) -> int:
    async with mongo_client(settings.mongo_url, app_name="parterre-cli") as client:
        registry = MongoSourceRegistry(client[settings.mongo_database][SOURCES])
        if arguments.action == "create":
            kind = SourceKind(arguments.kind)
            key = mint_source_key()
            if kind is SourceKind.SHOPIFY and not arguments.signing_secret:
                raise BilingualValueError(
                    en="a Shopify source needs --signing-secret (the app secret Shopify signs with)",
                    fr="une source Shopify exige --signing-secret (le secret d'application avec lequel Shopify signe)",
                )
            source = Source(
                source_id=validate_source_id(arguments.source_id),
                organisation_id=validate_organisation_id(arguments.org),
                kind=kind,
                signing_secrets=(arguments.signing_secret,) if arguments.signing_secret else (),
            )
            if await registry.find(source.source_id) is not None:
                raise BilingualValueError(
                    en=f"source {source.source_id} exists already", fr=f"la source {source.source_id} existe déjà"
                )
            await registry.create(source)
            await registry.add_key(source.source_id, key)
            _print_key(source.source_id, key, language)
            return 0
        if arguments.action == "set-mapping":
            return await _set_mapping(registry, arguments, mapping, language)
        if arguments.action == "rotate":
            if arguments.signing_secret:
                updated = await registry.add_signing_secret(arguments.source_id, arguments.signing_secret)
                new_key = None
            else:
                new_key = mint_source_key()
                updated = await registry.add_key(arguments.source_id, new_key)
            if updated is None:
                raise _no_source(arguments.source_id)
            if new_key:
                _print_key(updated.source_id, new_key, language)
            else:
                print(
                    in_language(
                        language,
                        en=f"{updated.source_id}: new signing secret added; the previous one stays valid until the "
                        "next",
                        fr=f"{updated.source_id} : nouveau secret de signature ajouté ; le précédent reste valide "
                        "jusqu'au prochain",
                    )
                )
            return 0
        for source in await registry.list(arguments.org):
            print(_source_line(source, language))
        return 0


def _source_line(source: Source, language: Language) -> str:
    """A source as `sources list` shows it, never its credentials: how many it has."""
    if language == "en":
        return (
            f"{source.source_id}  {source.organisation_id}  {source.kind.value}  "
            f"{len(source.key_hashes)} key(s)  {len(source.signing_secrets)} signing secret(s)"
            + (
                f"  erasure of all its data requested {source.redaction_requested_at:%Y-%m-%d %H:%M %Z}"
                if source.redaction_requested_at
                else ""
            )
        )
    keys = french_count(len(source.key_hashes), "clé", "clés")
    secrets = french_count(len(source.signing_secrets), "secret de signature", "secrets de signature")
    return f"{source.source_id}  {source.organisation_id}  {source.kind.value}  {keys}  {secrets}" + (
        f"  effacement de toutes ses données demandé le {source.redaction_requested_at:%Y-%m-%d %H:%M %Z}"
        if source.redaction_requested_at
        else ""
    )


def _no_source(source_id: str) -> BilingualValueError:
    return BilingualValueError(en=f"no source {source_id}", fr=f"la source {source_id} n'existe pas")


async def _set_mapping(
    registry: MongoSourceRegistry, arguments: argparse.Namespace, text: str | None, language: Language = "en"
) -> int:
    """Stores `text`, the mapping file read and checked, or with `--clear` removes the stored one."""
    if arguments.clear == (text is not None):
        raise BilingualValueError(
            en="give either a mapping file or --clear", fr="donnez soit un fichier de correspondance, soit --clear"
        )
    source = await registry.find(arguments.source_id)
    if source is None:
        raise _no_source(arguments.source_id)
    if source.kind is not SourceKind.BOXOFFICE:
        raise BilingualValueError(
            en=f"{source.source_id} is a {source.kind.value} source; only box offices take a column mapping",
            fr=f"{source.source_id} est une source {source.kind.value} ; seules les billetteries prennent une "
            "correspondance de colonnes",
        )
    await registry.set_column_mapping(source.source_id, text)
    if language == "fr":
        print(f"{source.source_id} : correspondance de colonnes " + ("enregistrée" if text else "supprimée"))
    else:
        print(f"{source.source_id}: " + ("column mapping stored" if text else "column mapping removed"))
    return 0


def _run_import(arguments: argparse.Namespace) -> int:
    language = language_of_environment()
    settings = IngestSettings()
    try:
        mapping = load_mapping(mapping_text(arguments.mapping.read_bytes())) if arguments.mapping else None
        summary = asyncio.run(_import(arguments, settings, mapping, language))
    except CsvFormatError as exc:
        print(f"error: {exc.en}\nerreur : {exc.fr}", file=sys.stderr)
        return 2
    except MappingFileError as exc:
        print(_mapping_refused(arguments.mapping, arguments.source, exc), file=sys.stderr)
        return 2
    except EventsInFlightError as exc:
        count = len(exc.event_ids)
        held = ", ".join(exc.event_ids[:5])
        _say_error(
            language,
            en=f"{exc}; nothing more was published, run the import again shortly",
            fr=f"{french_count(count, 'événement est', 'événements sont')} en cours de publication par une autre "
            f"requête : {held} ; rien de plus n'a été publié, relancez l'importation sous peu",
        )
        return 1
    except (KafkaError, PyMongoError) as exc:
        print(_interrupted(exc), file=sys.stderr)
        return 1
    except BilingualValueError as exc:
        _say_error(language, en=exc.en, fr=exc.fr)
        return 2
    except OSError as exc:
        _say_error(language, en=str(exc), fr=os_error(exc, "fr"))
        return 2
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if arguments.json:
        print(json.dumps(summary.to_dict(), ensure_ascii=False, indent=2))
    else:
        _print_summary(summary, language)
    return 0


def _interrupted(exc: KafkaError | PyMongoError) -> str:
    """What an import cut short by Kafka or the store says, as an upload cut short answers: what was published stays
    published, once, so running the same import again finishes it."""
    server = "Kafka" if isinstance(exc, KafkaError) else None
    return in_language(
        language_of_environment(),
        en="error: the import was interrupted: events cannot be stored right now. Run the import again later; rows "
        f"already imported will not be duplicated. ({server or 'the store'}: {exc})",
        fr="erreur : l'importation a été interrompue : les événements ne peuvent être enregistrés pour l'instant. "
        "Relancez l'importation plus tard ; les lignes déjà importées ne seront pas dupliquées. "
        f"({server or 'la base de données'} : {exc})",
    )


async def _import(
    arguments: argparse.Namespace, settings: IngestSettings, mapping: ColumnMapping | None, language: Language = "en"
) -> ImportSummary:
    size = arguments.file.stat().st_size
    async with mongo_client(settings.mongo_url, app_name="parterre-cli") as client:
        database = client[settings.mongo_database]
        source = await MongoSourceRegistry(database[SOURCES]).find(arguments.source)
        if source is None or source.kind is not SourceKind.BOXOFFICE:
            raise BilingualValueError(
                en=f"no box-office source {arguments.source}; create it with `parterre sources create`",
                fr=f"aucune source de billetterie {arguments.source} ; créez-la avec `parterre sources create`",
            )
        registry = CollectorRegistry()
        publisher = BulkKafkaPublisher(settings)
        try:
            if not arguments.dry_run:
                # Inside: a producer that could not reach Kafka is closed all the same.
                await publisher.start()
            with arguments.file.open("rb") as stream:
                progress = ProgressLine(
                    size, stream.tell, unit=in_language(language, en="rows", fr="lignes"), language=language
                )

                def show(summary: ImportSummary, *, final: bool = False) -> None:
                    report = summary.report
                    details = in_language(
                        language,
                        en=f"{report.accepted:,} accepted  {report.rejected:,} rejected",
                        fr=f"{french_count(report.accepted, 'acceptée', 'acceptées')}  "
                        f"{french_count(report.rejected, 'refusée', 'refusées')}",
                    )
                    (progress.finish if final else progress.update)(report.rows_read, details)

                summary = await import_boxoffice(
                    stream,
                    source=source,
                    # A file given on the command line wins over the one stored with the source.
                    mapping=mapping or source_mapping(source),
                    imported_at=datetime.now(UTC),
                    dry_run=arguments.dry_run,
                    sink=KafkaEventSink(publisher),
                    ledger=MongoPublicationLedger(
                        database[EVENT_CLAIMS],
                        database[PUBLISHED_EVENTS],
                        abandoned_after=timedelta(seconds=settings.claim_abandoned_after_seconds),
                    ),
                    metrics=IngestMetrics(registry),
                    chunk_rows=settings.import_chunk_rows,
                    on_progress=show,
                )
                show(summary, final=True)
        finally:
            if not arguments.dry_run:
                await publisher.stop()
    return summary


def _print_summary(summary: ImportSummary, language: Language = "en") -> None:
    report = summary.report

    def count(value: int) -> str:
        return format_count(value, language)

    def say(*, en: str, fr: str) -> None:
        print(in_language(language, en=en, fr=fr))

    say(en=f"rows read          {count(report.rows_read)}", fr=f"lignes lues         {count(report.rows_read)}")
    say(en=f"accepted           {count(report.accepted)}", fr=f"acceptées           {count(report.accepted)}")
    say(en=f"rejected           {count(report.rejected)}", fr=f"refusées            {count(report.rejected)}")
    # The reasons are codes, as `--json` gives them: the same in both languages.
    for reason, times in report.rejections_by_reason.most_common():
        say(en=f"  {reason:<16} {count(times)}", fr=f"  {reason:<17} {count(times)}")
    if summary.dry_run:
        say(en="dry run: nothing was published", fr="essai à blanc : rien n'a été publié")
    else:
        say(en=f"events published   {count(summary.published)}", fr=f"événements publiés  {count(summary.published)}")
        say(en=f"duplicates skipped {count(summary.duplicates)}", fr=f"doublons ignorés    {count(summary.duplicates)}")
    for example in report.first_rejections[:20]:
        say(
            en=f"row {example.row_number}, column {example.column!r}: {example.reason}",
            fr=f"ligne {example.row_number}, colonne {example.column!r} : {example.reason_fr}",
        )
    if report.rejected > 20:
        more, listed = count(report.rejected - 20), len(report.first_rejections)
        say(
            en=f"… and {more} more rejected rows (--json lists the first {listed})",
            fr=f"… et {more} autres lignes refusées (--json donne les {listed} premières)",
        )
    for notice in report.notices():
        say(en=f"note: {notice.message}", fr=f"à noter : {notice.message_fr}")


def _print_key(source_id: str, key: str, language: Language) -> None:
    print(
        in_language(
            language,
            en=f"source {source_id}: keep this key now; it cannot be shown again:",
            fr=f"source {source_id} : conservez cette clé dès maintenant ; elle ne pourra plus être affichée :",
        ),
        file=sys.stderr,
    )
    print(key)
