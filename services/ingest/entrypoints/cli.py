"""`parterre sources …` and `parterre import boxoffice …`: the ingest service's command-line tasks."""

import argparse
import asyncio
import sys
from typing import Any

from services.ingest.adapters.mongo import SOURCES, MongoSourceRegistry
from services.ingest.domain.sources import Source, SourceKind, mint_source_key, validate_source_id
from services.ingest.settings import IngestSettings
from shared.access import validate_organisation_id
from shared.mongo import mongo_client


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

    listing = actions.add_parser("list", help="list sources (never their credentials)")
    listing.add_argument("--org")
    listing.set_defaults(run=_run_sources)


def _run_sources(arguments: argparse.Namespace) -> int:
    try:
        return asyncio.run(_sources(arguments, IngestSettings()))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


async def _sources(arguments: argparse.Namespace, settings: IngestSettings) -> int:
    async with mongo_client(settings.mongo_url, app_name="parterre-cli") as client:
        registry = MongoSourceRegistry(client[settings.mongo_database][SOURCES])
        if arguments.action == "create":
            kind = SourceKind(arguments.kind)
            key = mint_source_key()
            if kind is SourceKind.SHOPIFY and not arguments.signing_secret:
                raise ValueError("a Shopify source needs --signing-secret (the app secret Shopify signs with)")
            source = Source(
                source_id=validate_source_id(arguments.source_id),
                organisation_id=validate_organisation_id(arguments.org),
                kind=kind,
                signing_secrets=(arguments.signing_secret,) if arguments.signing_secret else (),
            )
            if await registry.find(source.source_id) is not None:
                raise ValueError(f"source {source.source_id} exists already")
            await registry.create(source)
            await registry.add_key(source.source_id, key)
            _print_key(source.source_id, key)
            return 0
        if arguments.action == "rotate":
            if arguments.signing_secret:
                updated = await registry.add_signing_secret(arguments.source_id, arguments.signing_secret)
                new_key = None
            else:
                new_key = mint_source_key()
                updated = await registry.add_key(arguments.source_id, new_key)
            if updated is None:
                raise ValueError(f"no source {arguments.source_id}")
            if new_key:
                _print_key(updated.source_id, new_key)
            else:
                print(f"{updated.source_id}: new signing secret added; the previous one stays valid until the next")
            return 0
        for source in await registry.list(arguments.org):
            print(
                f"{source.source_id}  {source.organisation_id}  {source.kind.value}  "
                f"{len(source.key_hashes)} key(s)  {len(source.signing_secrets)} signing secret(s)"
            )
        return 0


def _print_key(source_id: str, key: str) -> None:
    print(f"source {source_id}: keep this key now; it cannot be shown again:", file=sys.stderr)
    print(key)
