"""`parterre console …`: the staff who may log in to the audience console, their roles and passwords."""

import argparse
import asyncio
import getpass
import secrets
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from services.console.adapters.mongo import MongoSessionStore, MongoStaffDirectory
from services.console.context import SystemClock
from services.console.domain.passwords import PasswordRejectedError
from services.console.domain.roles import ROLE_SCOPES, Role
from services.console.handlers import Accounts, add_staff_member, disable_staff_member, set_password
from services.console.settings import ConsoleSettings
from shared.bilingual import BilingualValueError, in_language, language_of_environment
from shared.events import Language
from shared.mongo import mongo_client
from shared.tokens import TOKENS_COLLECTION, OrganisationIdError, TokenStore


def register(commands: Any) -> None:
    console = commands.add_parser("console", help="staff accounts of the audience console")
    actions = console.add_subparsers(dest="action", required=True)
    roles_help = "; ".join(f"{role.value}: {', '.join(sorted(ROLE_SCOPES[role]))}" for role in Role)

    add = actions.add_parser(
        "add-user",
        help="create a staff account",
        description=f"Roles grant scopes: {roles_help}. The password is read from standard input when it is not a "
        "terminal (`--password-stdin`), asked for at a terminal, or generated and shown once with --generate.",
    )
    add.add_argument("username", help="what the person types to log in (lower case)")
    add.add_argument("--org", required=True, help="the organisation id, e.g. theatre-du-nord")
    add.add_argument("--name", default="", help="the person's name as the console shows it")
    add.add_argument("--role", action="append", required=True, choices=[role.value for role in Role])
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add.add_argument("--generate", action="store_true", help="generate a password and print it once")
    add.set_defaults(run=lambda arguments: _run(_add, arguments))

    listing = actions.add_parser("users", help="list staff accounts (never their passwords)")
    listing.add_argument("--org", help="only this organisation's")
    listing.set_defaults(run=lambda arguments: _run(_list, arguments))

    password = actions.add_parser("set-password", help="change a password; the member's sessions end")
    password.add_argument("username")
    password.add_argument("--password-stdin", action="store_true")
    password.add_argument("--generate", action="store_true")
    password.set_defaults(run=lambda arguments: _run(_set_password, arguments))

    disable = actions.add_parser("disable", help="stop an account from logging in; its sessions end at once")
    disable.add_argument("username")
    disable.set_defaults(run=lambda arguments: _run(_disable, arguments))


def _run(
    action: Callable[[Accounts, argparse.Namespace, Language], Awaitable[int]], arguments: argparse.Namespace
) -> int:
    language = language_of_environment()

    async def run() -> int:
        settings = ConsoleSettings()
        async with mongo_client(settings.mongo_url, app_name="parterre-cli") as client:
            database = client[settings.mongo_database]
            accounts = Accounts(
                staff=MongoStaffDirectory(database),
                sessions=MongoSessionStore(database),
                tokens=TokenStore(database[TOKENS_COLLECTION]),
                clock=SystemClock(),
            )
            try:
                return await action(accounts, arguments, language)
            except (ValueError, PasswordRejectedError) as exc:
                print(in_language(language, en=f"error: {exc}", fr=f"erreur : {_french_of(exc)}"), file=sys.stderr)
                return 2

    return asyncio.run(run())


def _french_of(exc: ValueError) -> str:
    """A refusal's French; a refusal with none yet is said as it is."""
    if isinstance(exc, BilingualValueError | OrganisationIdError | PasswordRejectedError):
        return exc.fr
    return str(exc)


def _password(arguments: argparse.Namespace, language: Language = "en") -> tuple[str, bool]:
    """The new password, and whether it was generated (then it must be shown)."""
    if arguments.generate:
        return secrets.token_urlsafe(15), True
    if arguments.password_stdin or not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n"), False
    first = getpass.getpass(in_language(language, en="password: ", fr="mot de passe : "))
    if getpass.getpass(in_language(language, en="again: ", fr="encore une fois : ")) != first:
        raise BilingualValueError(en="the two passwords differ", fr="les deux mots de passe diffèrent")
    return first, False


def _show_generated(password: str, language: Language) -> None:
    print(
        in_language(language, en="Password (shown once):", fr="Mot de passe (affiché une seule fois) :"),
        file=sys.stderr,
    )
    print(password)


async def _add(accounts: Accounts, arguments: argparse.Namespace, language: Language) -> int:
    password, generated = _password(arguments, language)
    member = await add_staff_member(
        accounts,
        username=arguments.username,
        organisation_id=arguments.org,
        display_name=arguments.name,
        roles=frozenset(Role(role) for role in arguments.role),
        password=password,
    )
    roles = ", ".join(sorted(member.roles))
    print(
        in_language(
            language,
            en=f"added {member.username} ({member.organisation_id}): {roles}",
            fr=f"compte {member.username} ({member.organisation_id}) ajouté : {roles}",
        )
    )
    if generated:
        _show_generated(password, language)
    return 0


async def _list(accounts: Accounts, arguments: argparse.Namespace, language: Language) -> int:
    for member in await accounts.staff.members(arguments.org):
        roles = ",".join(sorted(member.roles))
        if language == "fr":
            state = "actif" if member.is_active else "désactivé"
            print(f"{member.username}  {member.organisation_id}  {state:9}  {roles}  {member.display_name}")
            continue
        state = "active" if member.is_active else "disabled"
        print(f"{member.username}  {member.organisation_id}  {state:8}  {roles}  {member.display_name}")
    return 0


async def _set_password(accounts: Accounts, arguments: argparse.Namespace, language: Language) -> int:
    password, generated = _password(arguments, language)
    member = await set_password(accounts, arguments.username, password)
    print(
        in_language(
            language,
            en=f"password of {member.username} changed; their sessions are closed",
            fr=f"mot de passe de {member.username} changé ; ses sessions sont fermées",
        )
    )
    if generated:
        _show_generated(password, language)
    return 0


async def _disable(accounts: Accounts, arguments: argparse.Namespace, language: Language) -> int:
    member = await disable_staff_member(accounts, arguments.username)
    print(
        in_language(
            language,
            en=f"{member.username} can no longer log in; their sessions are closed",
            fr=f"{member.username} ne peut plus se connecter ; ses sessions sont fermées",
        )
    )
    return 0
