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

from shared.bilingual import chosen_language, in_language
from shared.events import Language
from shared.gc_tuning import tune_garbage_collection
from shared.settings import ServiceSettings, is_settings_error, settings_problems
from shared.tokens import TOKENS_COLLECTION, Scope, TokenStore
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


async def _tokens(arguments: argparse.Namespace, settings: ServiceSettings) -> int:
    # Here, not at the top: the store's driver is a tenth of a second of every command's start.
    from shared.mongo import mongo_client

    async with mongo_client(settings.mongo_url, app_name="parterre-cli") as client:
        store = TokenStore(client[settings.mongo_database][TOKENS_COLLECTION])
        if arguments.action == "create":
            issued = await store.issue(arguments.org, {Scope(scope) for scope in arguments.scope}, arguments.name)
            print(f"token id: {issued.token_id}", file=sys.stderr)
            print("Keep this token now; it cannot be shown again:", file=sys.stderr)
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
                until = "" if expires_at is None else f"  until {expires_at:%Y-%m-%d %H:%M} UTC"
                print(
                    f"{record['_id']}  {record['organisation_id']}  {state:7}  "
                    f"{','.join(record['scopes'])}  {record['name']}{until}"
                )
            return 0
        if await store.revoke(arguments.token_id):
            print(f"revoked {arguments.token_id}")
            return 0
        print(f"no active token {arguments.token_id}", file=sys.stderr)
        return 1


async def _topics(settings: ServiceSettings) -> int:
    # Here, not at the top, for the same reason: Kafka's client.
    from shared.topic_admin import ensure_topics

    report = await ensure_topics(settings.kafka_bootstrap, all_topic_partitions(settings.kafka_namespace))
    for name in report.created:
        print(f"created  {name}")
    for name in report.existing:
        print(f"exists   {name}")
    for name, (have, want) in report.under_partitioned.items():
        print(f"WARNING  {name} has {have} partitions, the catalog wants {want}", file=sys.stderr)
    for name, reason in report.refused.items():
        print(f"REFUSED  {name}: {reason}", file=sys.stderr)
    return 1 if report.refused else 0


def _docs(arguments: argparse.Namespace) -> int:
    from shared.asyncapi import asyncapi_document, events_markdown

    folder = Path(arguments.output_dir)
    wanted = {
        folder / "asyncapi.json": json.dumps(asyncapi_document(), indent=2, ensure_ascii=False) + "\n",
        folder / "events.md": events_markdown(),
    }
    stale = [path for path, text in wanted.items() if not path.exists() or path.read_text() != text]
    if arguments.check:
        for path in stale:
            print(f"{path} is out of date with the code: run `make docs` and commit it", file=sys.stderr)
        return 1 if stale else 0
    folder.mkdir(parents=True, exist_ok=True)
    for path in stale:
        path.write_text(wanted[path])
        print(f"wrote {path}")
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
    """The language of a command that speaks French too (it has `--language`); English for the others."""
    if not hasattr(arguments, "language"):
        return "en"
    try:
        return chosen_language(arguments.language)
    except ValueError:
        return "en"


def _run(arguments: argparse.Namespace) -> int:
    if hasattr(arguments, "run"):
        code: int = arguments.run(arguments)
        return code
    settings = ServiceSettings()
    if arguments.command == "tokens":
        return asyncio.run(_tokens(arguments, settings))
    if arguments.command == "topics":
        return asyncio.run(_topics(settings))
    return _docs(arguments)


if __name__ == "__main__":
    sys.exit(main())
