"""The store's client gives up on a store out of reach after its default wait, or after the URL's own."""

import pytest

from shared.mongo import DEFAULT_SERVER_SELECTION_TIMEOUT_MS, mongo_client


@pytest.mark.parametrize(
    ("url", "seconds"),
    [
        ("mongodb://127.0.0.1:27017/", DEFAULT_SERVER_SELECTION_TIMEOUT_MS / 1000),
        ("mongodb://127.0.0.1:27017/?serverSelectionTimeoutMS=250", 0.25),
        ("mongodb://127.0.0.1:27017/?appName=x&serverselectiontimeoutms=1500", 1.5),
    ],
)
async def test_a_store_out_of_reach_is_given_up_after_the_url_s_wait_else_the_default(url: str, seconds: float) -> None:
    async with mongo_client(url, app_name="parterre-test") as client:
        assert client.options.server_selection_timeout == seconds
