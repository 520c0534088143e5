from datetime import UTC, datetime, timedelta

import pytest
from pymongo.asynchronous.database import AsyncDatabase

from services.console.adapters.mongo import INDEXES, MongoSessionStore, MongoStaffDirectory
from services.console.handlers import Accounts
from shared.mongo import Document, ensure_indexes
from shared.tokens import TOKENS_COLLECTION, Scope, TokenStore
from tests.unit.console.account_scenarios import SCENARIOS, Scenario
from tests.unit.console.fakes import SteppingClock

pytestmark = pytest.mark.mongo


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda scenario: scenario.__name__)
async def test_staff_accounts_and_sessions_in_the_store(scenario: Scenario, database: AsyncDatabase[Document]) -> None:
    await ensure_indexes(database, INDEXES)
    clock = SteppingClock()
    accounts = Accounts(
        MongoStaffDirectory(database), MongoSessionStore(database), TokenStore(database[TOKENS_COLLECTION]), clock
    )
    await scenario(accounts, clock)


async def test_a_console_session_s_token_stops_working_when_it_expires(database: AsyncDatabase[Document]) -> None:
    tokens = TokenStore(database[TOKENS_COLLECTION])
    past = await tokens.issue("theatre-demo", {Scope.PROFILES_READ}, "console:marie", expires_at=datetime.now(UTC))
    future = await tokens.issue(
        "theatre-demo", {Scope.PROFILES_READ}, "console:marie", expires_at=datetime.now(UTC) + timedelta(hours=1)
    )
    assert await tokens.authenticate(past.token) is None
    assert await tokens.authenticate(future.token) is not None
