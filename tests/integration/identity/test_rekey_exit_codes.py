"""`parterre identity rekey-identifiers --help` lists every exit code the command ends with, and each one listed is
the code a run of that kind ends with against the real store, so that a script may branch on them."""

from pathlib import Path

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.identity.adapters.mongo import MongoIdentityStore
from shared.mongo import Document
from tests.integration.identity.command_runs import Runs, exit_code_tests
from tests.integration.identity.conftest import ORGANISATION
from tests.integration.identity.test_rekeying import ACCENTED, store_as_before


async def stored_before(database: AsyncDatabase[Document], monkeypatch: pytest.MonkeyPatch) -> None:
    """A person stored with an address in its DNS form, in the store the command is set to open."""
    await store_as_before(MongoIdentityStore(database), "per_marie")


async def held_by_another(database: AsyncDatabase[Document], monkeypatch: pytest.MonkeyPatch) -> None:
    await stored_before(database, monkeypatch)
    await store_as_before(MongoIdentityStore(database), "per_since", ACCENTED, created_days_later=90)


async def store_away(database: AsyncDatabase[Document], monkeypatch: pytest.MonkeyPatch) -> None:
    # Nothing listens on port 1: the store is not reached, after the client's 5 s of trying.
    monkeypatch.setenv("PARTERRE_MONGO_URL", "mongodb://127.0.0.1:1/")


async def refused_setting(database: AsyncDatabase[Document], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARTERRE_MONGO_DATABASE", "parterre/production")


async def policy_missing(database: AsyncDatabase[Document], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARTERRE_IDENTITY_POLICY_FILE", str(Path(__file__).with_name("no-such-policy.yaml")))


async def ctrl_c_midway(database: AsyncDatabase[Document], monkeypatch: pytest.MonkeyPatch) -> None:
    await stored_before(database, monkeypatch)

    async def stopped_by_ctrl_c(*arguments: object, **options: object) -> None:
        raise KeyboardInterrupt

    # Once the persons are read, as their addresses are claimed.
    monkeypatch.setattr("services.identity.rekeying._rekey", stopped_by_ctrl_c)


RUNS: Runs = {
    0: [
        ("every organisation rekeyed", [], stored_before),
        ("one organisation rekeyed", ["--organisation", ORGANISATION], stored_before),
        ("an address held by another person left for review", [], held_by_another),
    ],
    1: [("the store not reached", [], store_away)],
    2: [
        ("an --organisation that is no organisation id", ["--organisation", "Théâtre du Nord"], stored_before),
        ("a setting refused", [], refused_setting),
        ("the identifier policy file missing", [], policy_missing),
    ],
    130: [("Ctrl-C", [], ctrl_c_midway)],
}


(
    test_help_lists_exactly_the_exit_codes_a_rekeying_ends_with,
    test_each_rekeying_ends_with_the_exit_code_help_lists_for_it,
) = exit_code_tests(
    "rekey-identifiers",
    RUNS,
    {"PARTERRE_IDENTITY_POLICY_FILE": None, "PARTERRE_IDENTITY_MATCH_MODEL_FILE": None},
)
