import pytest

from services.console.handlers import Accounts
from tests.unit.console.account_scenarios import SCENARIOS, Scenario
from tests.unit.console.fakes import MemorySessionStore, MemoryStaffDirectory, MemoryTokens, SteppingClock


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda scenario: scenario.__name__)
async def test_staff_accounts_and_sessions_in_memory(scenario: Scenario) -> None:
    clock = SteppingClock()
    await scenario(Accounts(MemoryStaffDirectory(), MemorySessionStore(), MemoryTokens(), clock), clock)
