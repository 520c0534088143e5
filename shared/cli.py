"""The `parterre` command: operator tasks that are not a running service (tokens, topics, documents).

Services add their own commands (`parterre sources …`, `parterre import …`) through a module that has
`register(subcommands)`; each command it adds sets `run` to a function of the parsed arguments.
"""

import argparse
import asyncio
import importlib
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError

from shared.bilingual import chosen_language, in_language, is_singular, language_of_environment
from shared.events import Language
from shared.gc_tuning import tune_garbage_collection
from shared.settings import ServiceSettings, is_settings_error, settings_problems
from shared.tokens import TOKENS_COLLECTION, OrganisationIdError, Scope, TokenStore, validate_organisation_id
from shared.topics import all_topic_partitions

# The commands each service's module adds, in the order `--help` lists them. Imported only when `parterre` runs, so
# that `shared` never depends on a service at import time; and only the module of the command run, since each brings
# its service's dependencies (a third of a second of start-up, on every command, for the others).
SERVICE_COMMANDS = {
    "services.ingest.entrypoints.cli": ("sources", "import"),
    "services.identity.entrypoints.cli": ("identity",),
    "services.profile.entrypoints.cli": ("profile",),
    "services.notify.entrypoints.cli": ("notify",),
    "services.console.entrypoints.cli": ("console",),
}

CORE_COMMANDS = ("tokens", "topics", "docs")


def _parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="parterre", description="Operate a Parterre installation.")
    commands = parser.add_subparsers(dest="command", required=True)
    # The first word that is no option names the command: a core one (below) needs no service's module; `--help`
    # alone, or a word no one adds (a typo, answered with the list of every command), needs them all.
    command = next((word for word in argv if not word.startswith("-")), None)
    if command in CORE_COMMANDS:
        needed: Sequence[str] = ()
    else:
        needed = [module for module, names in SERVICE_COMMANDS.items() if command in names] or list(SERVICE_COMMANDS)
    for module_name in needed:
        importlib.import_module(module_name).register(commands)

    tokens = commands.add_parser("tokens", help="create, list and revoke API access tokens")
    token_commands = tokens.add_subparsers(dest="action", required=True)
    create = token_commands.add_parser("create", help="create a token; it is shown once")
    create.add_argument("--org", required=True, help="organisation id, e.g. theatre-du-nord")
    create.add_argument(
        "--scope",
        action="append",
        required=True,
        choices=[scope.value for scope in Scope],
        help="a scope the token grants; repeat for several",
    )
    create.add_argument("--name", required=True, help="who or what uses it, e.g. 'box office export'")
    listing = token_commands.add_parser("list", help="list tokens (never their secrets)")
    listing.add_argument("--org", help="only this organisation's tokens")
    revoke = token_commands.add_parser("revoke", help="revoke a token at once")
    revoke.add_argument("token_id", help="the id shown by `tokens list`")

    topics = commands.add_parser("topics", help="Kafka topics of the catalog")
    topics.add_subparsers(dest="action", required=True).add_parser(
        "create", help="create every missing topic with its partition count"
    )

    docs = commands.add_parser("docs", help="generated documents")
    events = docs.add_subparsers(dest="action", required=True).add_parser(
        "events", help="write the event catalog: docs/asyncapi.json (AsyncAPI 3) and docs/events.md"
    )
    events.add_argument("--output-dir", default="docs")
    events.add_argument("--check", action="store_true", help="fail if the files differ from the code")
    return parser


# A token's state as `tokens list` says it, in English and French; none is longer than the column (7).
_TOKEN_STATES = {
    "active": {"en": "active", "fr": "actif"},
    "revoked": {"en": "revoked", "fr": "révoqué"},
    "expired": {"en": "expired", "fr": "expiré"},
}


async def _tokens(arguments: argparse.Namespace, settings: ServiceSettings, language: Language) -> int:
    # Here, not at the top: the store's driver is a tenth of a second of every command's start.
    from shared.mongo import mongo_client

    async with mongo_client(settings.mongo_url, app_name="parterre-cli") as client:
        store = TokenStore(client[settings.mongo_database][TOKENS_COLLECTION])
        if arguments.action == "create":
            issued = await store.issue(arguments.org, {Scope(scope) for scope in arguments.scope}, arguments.name)
            print(
                in_language(
                    language, en=f"token id: {issued.token_id}", fr=f"identifiant du jeton : {issued.token_id}"
                ),
                file=sys.stderr,
            )
            print(
                in_language(
                    language,
                    en="Keep this token now; it cannot be shown again:",
                    fr="Conservez ce jeton dès maintenant ; il ne pourra plus être affiché :",
                ),
                file=sys.stderr,
            )
            print(issued.token)
            return 0
        if arguments.action == "list":
            now = datetime.now(UTC)
            for record in await store.list(arguments.org):
                expires_at = record.get("expires_at")
                if record.get("revoked_at"):
                    state = "revoked"
                elif expires_at is not None and expires_at <= now:
                    # A console session's token past its session: the API refuses it.
                    state = "expired"
                else:
                    state = "active"
                until = (
                    ""
                    if expires_at is None
                    else in_language(language, en="  until", fr="  jusqu'au") + f" {expires_at:%Y-%m-%d %H:%M} UTC"
                )
                print(
                    f"{record['_id']}  {record['organisation_id']}  {_TOKEN_STATES[state][language]:7}  "
                    f"{','.join(record['scopes'])}  {record['name']}{until}"
                )
            return 0
        if await store.revoke(arguments.token_id):
            print(in_language(language, en=f"revoked {arguments.token_id}", fr=f"jeton {arguments.token_id} révoqué"))
            return 0
        print(
            in_language(
                language,
                en=f"no active token {arguments.token_id}",
                fr=f"aucun jeton actif n'a l'identifiant {arguments.token_id}",
            ),
            file=sys.stderr,
        )
        return 1


async def _topics(settings: ServiceSettings, language: Language) -> int:
    # Here, not at the top, for the same reason: Kafka's client.
    from shared.topic_admin import ensure_topics

    report = await ensure_topics(settings.kafka_bootstrap, all_topic_partitions(settings.kafka_namespace))
    for name in report.created:
        print(in_language(language, en=f"created  {name}", fr=f"créé       {name}"))
    for name in report.existing:
        print(in_language(language, en=f"exists   {name}", fr=f"existe     {name}"))
    for name, (have, want) in report.under_partitioned.items():
        partitions = "partition" if is_singular(have, "fr") else "partitions"
        print(
            in_language(
                language,
                en=f"WARNING  {name} has {have} partitions, the catalog wants {want}",
                fr=f"ATTENTION  {name} a {have} {partitions}, le catalogue en prévoit {want}",
            ),
            file=sys.stderr,
        )
    for name, reason in report.refused.items():
        print(
            in_language(language, en=f"REFUSED  {name}: {reason}", fr=f"REFUSÉ     {name} : {reason}"), file=sys.stderr
        )
    return 1 if report.refused else 0


def _docs(arguments: argparse.Namespace, language: Language) -> int:
    from shared.asyncapi import asyncapi_document, events_markdown

    folder = Path(arguments.output_dir)
    wanted = {
        folder / "asyncapi.json": json.dumps(asyncapi_document(), indent=2, ensure_ascii=False) + "\n",
        folder / "events.md": events_markdown(),
    }
    stale = [path for path, text in wanted.items() if not path.exists() or path.read_text() != text]
    if arguments.check:
        for path in stale:
            print(
                in_language(
                    language,
                    en=f"{path} is out of date with the code: run `make docs` and commit it",
                    fr=f"{path} n'est plus à jour avec le code : lancez `make docs` et faites-en un commit",
                ),
                file=sys.stderr,
            )
        return 1 if stale else 0
    folder.mkdir(parents=True, exist_ok=True)
    for path in stale:
        path.write_text(wanted[path])
        print(in_language(language, en=f"wrote {path}", fr=f"fichier écrit : {path}"))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    arguments = _parser(argv).parse_args(argv)
    # Some commands run for minutes over hundreds of thousands of records, as the services do.
    tune_garbage_collection()
    try:
        return _run(arguments)
    except ValidationError as exc:
        # Settings are read from the environment when a command starts: a bad value is the operator's to fix.
        if not is_settings_error(exc):
            raise
        language = _language_of(arguments)
        for name, message in settings_problems(exc, language):
            print(
                in_language(language, en=f"error: {name}: {message}", fr=f"erreur : {name} : {message}"),
                file=sys.stderr,
            )
        return 2


def _language_of(arguments: argparse.Namespace) -> Language:
    """The language of a command: its `--language` when it has one, else the environment's (`LANG=fr_CA.UTF-8`)."""
    if not hasattr(arguments, "language"):
        return language_of_environment()
    try:
        return chosen_language(arguments.language)
    except ValueError:
        return "en"


def _run(arguments: argparse.Namespace) -> int:
    if hasattr(arguments, "run"):
        code: int = arguments.run(arguments)
        return code
    settings = ServiceSettings()
    language = language_of_environment()
    if arguments.command == "tokens":
        return _run_tokens(arguments, settings, language)
    if arguments.command == "topics":
        return _run_topics(settings, language)
    return _docs(arguments, language)


def _say_error(language: Language, *, en: str, fr: str) -> None:
    print(in_language(language, en=f"error: {en}", fr=f"erreur : {fr}"), file=sys.stderr)


def _run_tokens(arguments: argparse.Namespace, settings: ServiceSettings, language: Language) -> int:
    from pymongo.errors import PyMongoError

    if arguments.action == "create":
        try:
            validate_organisation_id(arguments.org)
        except OrganisationIdError as exc:
            _say_error(language, en=f"--org: {exc}", fr=f"--org : {exc.fr}")
            return 2
    try:
        return asyncio.run(_tokens(arguments, settings, language))
    except PyMongoError as exc:
        _say_error(language, en=f"the store: {exc}", fr=f"la base de données : {exc}")
        return 1


def _run_topics(settings: ServiceSettings, language: Language) -> int:
    from aiokafka.errors import KafkaError

    try:
        return asyncio.run(_topics(settings, language))
    except KafkaError as exc:
        _say_error(
            language,
            en=f"Kafka: {exc}; running the command again creates what this one did not",
            fr=f"Kafka : {exc} ; relancer la commande crée ce que celle-ci n'a pas créé",
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
