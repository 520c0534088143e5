"""`GET /v1/review` in pages: `next_cursor` continues where a page ended, and a cursor naming nothing is refused."""

import asyncio

from fastapi.testclient import TestClient

from services.identity.adapters.memory import InMemoryIdentityStore
from services.identity.domain.merges import ReviewStatus
from tests.integration.identity.test_review_paging import suggestion
from tests.unit.identity.http_harness import identity_app


def test_the_decided_queue_is_read_whole_page_after_page() -> None:
    store = InMemoryIdentityStore()
    for number in range(1, 6):
        asyncio.run(store.insert_review(suggestion(number, number, ReviewStatus.REJECTED)))
    client = TestClient(identity_app(store))

    read: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params = {"status": "rejected", "limit": 2, **({"cursor": cursor} if cursor else {})}
        answer = client.get("/v1/review", params=params)
        assert answer.status_code == 200, answer.text
        read += [item["review_id"] for item in answer.json()["items"]]
        pages += 1
        cursor = answer.json()["next_cursor"]
        if cursor is None:
            break

    assert read == ["rev_01", "rev_02", "rev_03", "rev_04", "rev_05"]
    assert pages == 3


def test_a_cursor_naming_no_review_is_refused_in_both_languages() -> None:
    answer = TestClient(identity_app(InMemoryIdentityStore())).get("/v1/review", params={"cursor": "rev_nobody"})

    assert answer.status_code == 422
    assert [(field["field"], field["code"]) for field in answer.json()["detail"]["fields"]] == [
        ("query.cursor", "unknown_cursor")
    ]
