"""`parterre notify replay`: queue dead deliveries again from the command line; a running notify sends them.
`parterre notify reseal-secrets`: seal the stored secrets again with the first secrets key, to retire the others."""

import argparse
import asyncio
import sys
from typing import Any

from pymongo.errors import PyMongoError

from services.notify.adapters.mongo import MongoNotifyStore, ResealReport
from services.notify.adapters.secrets import KEY_VARIABLE, SecretsKeyError
from services.notify.context import SystemClock, notify_rules, settings_secret_box
from services.notify.handlers import (
    NotifyDeps,
    PersonErasedError,
    ReplayRefusedError,
    SubscriptionDeletedError,
    replay_delivery,
)
from services.notify.ports import DeliveryStatus
from services.notify.settings import NotifySettings
from shared.bilingual import format_count, french_count, in_language, language_of_environment
from shared.events import Language
from shared.mongo import mongo_client


def register(commands: Any) -> None:
    notify = commands.add_parser("notify", help="webhook deliveries").add_subparsers(dest="action", required=True)
    replay = notify.add_parser(
        "replay",
        help="queue dead deliveries again, with a fresh retry schedule",
        description="Name deliveries by id, or replay every dead delivery of one subscription. Consent is checked "
        "again when each is sent; the running notify service picks them up at its next poll. A delivery about a "
        "person erased since is never replayed: --subscription skips those and counts them.",
    )
    replay.add_argument("--org", required=True, help="the organisation, e.g. theatre-du-nord")
    replay.add_argument("delivery_ids", nargs="*", help="ids shown by GET /v1/deliveries?status=dead")
    replay.add_argument("--subscription", help="replay every dead delivery of this subscription")
    replay.set_defaults(run=_run_replay)
    reseal = notify.add_parser(
        "reseal-secrets",
        help="seal every stored signing secret and Mailchimp key again with the first key of "
        "PARTERRE_NOTIFY_SECRETS_KEY, so that the keys after it can go",
        description="After putting a new key first in PARTERRE_NOTIFY_SECRETS_KEY (the old one after it), run this "
        "once: every subscription's secrets are sealed again with the new key, and the old key can then be removed. "
        "The service may keep running; rotate no signing secret meanwhile (on FerretDB, a rotation and a reseal of "
        "one subscription at the same moment may lose the new secret). Exits 1 naming the subscriptions no key "
        "opens, or those changed while it ran (run it again for those).",
    )
    reseal.set_defaults(run=_run_reseal)


def _run_replay(arguments: argparse.Namespace) -> int:
    language = language_of_environment()
    if not arguments.delivery_ids and not arguments.subscription:
        print(
            in_language(
                language,
                en="name delivery ids, or --subscription",
                fr="nommez des livraisons par leur identifiant, ou --subscription",
            ),
            file=sys.stderr,
        )
        return 2
    settings = NotifySettings()
    try:
        return asyncio.run(_replay(arguments, settings, language))
    except SecretsKeyError as exc:
        print(in_language(language, en=f"error: {exc.en}", fr=f"erreur : {exc.fr}"), file=sys.stderr)
        return 2
    except PyMongoError as exc:
        print(
            in_language(
                language,
                en=f"error: the store: {exc}; the deliveries said queued again above are, the others are as they "
                "were: run the command again for them",
                fr=f"erreur : la base de données : {exc} ; les livraisons dites remises en file d'attente ci-dessus "
                "le sont, les autres sont restées telles quelles : relancez la commande pour elles",
            ),
            file=sys.stderr,
        )
        return 1


async def _replay(arguments: argparse.Namespace, settings: NotifySettings, language: Language = "en") -> int:
    async with mongo_client(settings.mongo_url, app_name="parterre-cli") as client:
        deps = NotifyDeps(
            store=MongoNotifyStore(client[settings.mongo_database], settings_secret_box(settings)),
            clock=SystemClock(),
            rules=notify_rules(settings),
        )
        named = list(arguments.delivery_ids)
        wanted = list(named)
        if arguments.subscription:
            dead = await deps.store.deliveries(
                arguments.org, subscription_id=arguments.subscription, status=DeliveryStatus.DEAD.value, limit=0
            )
            wanted.extend(delivery.delivery_id for delivery in dead if delivery.delivery_id not in named)
        failures = skipped = 0

        def refused(delivery_id: str, *, en: str, fr: str) -> None:
            print(in_language(language, en=f"{delivery_id}  {en}", fr=f"{delivery_id}  {fr}"), file=sys.stderr)

        for delivery_id in wanted:
            try:
                replayed = await replay_delivery(arguments.org, delivery_id, deps)
            except PersonErasedError:
                if delivery_id not in named:
                    # Found among the subscription's dead deliveries: one that stays dead, and rightly so.
                    skipped += 1
                    continue
                refused(
                    delivery_id,
                    en="not replayed: it is about a person who was erased",
                    fr="non rejouée : elle concerne une personne effacée",
                )
                failures += 1
                continue
            except ReplayRefusedError as exc:
                refused(
                    delivery_id,
                    en=f"not replayed: it is {exc}, not dead",
                    fr=f"non rejouée : elle est {exc.french}, pas abandonnée",
                )
                failures += 1
                continue
            except SubscriptionDeletedError:
                refused(
                    delivery_id,
                    en="not replayed: its subscription was deleted",
                    fr="non rejouée : son abonnement a été supprimé",
                )
                failures += 1
                continue
            if replayed is None:
                refused(delivery_id, en=f"not found in {arguments.org}", fr=f"introuvable dans {arguments.org}")
                failures += 1
                continue
            print(
                in_language(
                    language,
                    en=f"{delivery_id}  queued again (replay {replayed.replays})",
                    fr=f"{delivery_id}  remise en file d'attente (rejeu n° {replayed.replays})",
                )
            )
        if skipped:
            print(
                in_language(
                    language,
                    en=f"{skipped} dead deliveries about erased persons skipped: they are never sent again",
                    fr="1 livraison abandonnée au sujet d'une personne effacée écartée : elle n'est plus jamais envoyée"
                    if skipped == 1
                    else f"{format_count(skipped, 'fr')} livraisons abandonnées au sujet de personnes effacées "
                    "écartées : elles ne sont plus jamais envoyées",
                )
            )
        return 1 if failures else 0


def _run_reseal(_arguments: argparse.Namespace) -> int:
    language = language_of_environment()
    settings = NotifySettings()
    try:
        report = asyncio.run(_reseal(settings))
    except SecretsKeyError as exc:
        print(in_language(language, en=f"error: {exc.en}", fr=f"erreur : {exc.fr}"), file=sys.stderr)
        return 2
    except PyMongoError as exc:
        print(
            in_language(
                language,
                en=f"error: the store: {exc}; running the command again reseals what this one did not",
                fr=f"erreur : la base de données : {exc} ; relancer la commande scelle de nouveau ce que celle-ci n'a "
                "pas scellé",
            ),
            file=sys.stderr,
        )
        return 1
    print(
        in_language(
            language,
            en=f"{report.subscriptions:,} subscriptions; {report.resealed:,} sealed again with the first key",
            fr=f"{french_count(report.subscriptions, 'abonnement', 'abonnements')} ; "
            f"{french_count(report.resealed, 'scellé', 'scellés')} de nouveau avec la première clé",
        )
    )
    for subscription_id in report.unreadable:
        print(
            in_language(
                language,
                en=f"{subscription_id}  no key of {KEY_VARIABLE} opens its secrets",
                fr=f"{subscription_id}  aucune clé de {KEY_VARIABLE} n'ouvre ses secrets",
            ),
            file=sys.stderr,
        )
    for subscription_id in report.changed_meanwhile:
        print(
            in_language(
                language,
                en=f"{subscription_id}  changed while this ran: run the command again",
                fr=f"{subscription_id}  modifié pendant l'exécution : relancez la commande",
            ),
            file=sys.stderr,
        )
    return 1 if report.unreadable or report.changed_meanwhile else 0


async def _reseal(settings: NotifySettings) -> ResealReport:
    async with mongo_client(settings.mongo_url, app_name="parterre-cli") as client:
        return await MongoNotifyStore(client[settings.mongo_database], settings_secret_box(settings)).reseal_secrets()
