"""What every identity unit test starts from."""

import pytest


@pytest.fixture(autouse=True)
def english_unless_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    """The batch commands speak the language of the environment: the tests read their English wherever they run,
    and a test of the French sets the environment, or `--language`, itself."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(name, raising=False)
