"""`parterre identity refile-blocks --help` lists every exit code the command ends with, and each one listed is the
code a run of that kind ends with against the real store, so that a script may branch on them."""

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.identity.adapters.mongo import MongoIdentityStore
from shared.mongo import Document
from tests.integration.identity.command_runs import Runs, exit_code_tests
from tests.integration.identity.conftest import ORGANISATION, normalised
from tests.integration.identity.test_refiling import FREDERIC, store_as_before

SALT = "the-service-s-salt"


async def stored_before(database: AsyncDatabase[Document], monkeypatch: pytest.MonkeyPatch) -> None:
    """A person filed under the keys of an older release, in the store the command is set to open."""
    await store_as_before(MongoIdentityStore(database, salt=SALT), "per_frederic", normalised(**FREDERIC))


async def salt_of_a_shell(database: AsyncDatabase[Document], monkeypatch: pytest.MonkeyPatch) -> None:
    await stored_before(database, monkeypatch)
    monkeypatch.setenv("PARTERRE_IDENTITY_SUPPRESSION_SALT", "a-shell-s-salt")


async def store_away(database: AsyncDatabase[Document], monkeypatch: pytest.MonkeyPatch) -> None:
    # Nothing listens on port 1: the store is not reached, after the client's 5 s of trying.
    monkeypatch.setenv("PARTERRE_MONGO_URL", "mongodb://127.0.0.1:1/")


async def refused_setting(database: AsyncDatabase[Document], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARTERRE_MONGO_DATABASE", "parterre/production")


async def ctrl_c_midway(database: AsyncDatabase[Document], monkeypatch: pytest.MonkeyPatch) -> None:
    await stored_before(database, monkeypatch)

    async def stopped_by_ctrl_c(*arguments: object, **options: object) -> None:
        raise KeyboardInterrupt

    # Once the persons are read, as they are filed.
    monkeypatch.setattr("services.identity.refiling._file", stopped_by_ctrl_c)


RUNS: Runs = {
    0: [
        ("every organisation refiled", [], stored_before),
        ("one organisation refiled", ["--organisation", ORGANISATION], stored_before),
    ],
    1: [("the store not reached", [], store_away)],
    2: [
        ("an --organisation that is no organisation id", ["--organisation", "Théâtre du Nord"], stored_before),
        ("a store hashed with another salt", [], salt_of_a_shell),
        ("a setting refused", [], refused_setting),
    ],
    130: [("Ctrl-C", [], ctrl_c_midway)],
}


(
    test_help_lists_exactly_the_exit_codes_a_refiling_ends_with,
    test_each_refiling_ends_with_the_exit_code_help_lists_for_it,
) = exit_code_tests(
    "refile-blocks",
    RUNS,
    {"PARTERRE_IDENTITY_SUPPRESSION_SALT": SALT},
)
