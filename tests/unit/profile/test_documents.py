"""Profile records as stored documents: what is left out, what reads back, and where a bad document goes wrong."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import StrEnum

import pytest

from services.profile.domain.documents import DocumentError, from_plain, to_plain


class Kind(StrEnum):
    SEAT = "seat"
    PASS = "pass"


@dataclass(frozen=True)
class Price:
    amount: Decimal
    kind: Kind = Kind.SEAT


@dataclass(frozen=True)
class Order:
    placed_at: datetime
    prices: tuple[Price, ...] = ()
    refunded_on: date | None = None
    tags: frozenset[str] = frozenset()
    seats: Mapping[str, int] = field(default_factory=dict)
    paid: bool = False


PLACED = datetime(2026, 3, 14, 19, 30, tzinfo=UTC)


def test_a_record_keeps_only_the_fields_away_from_their_default_in_plain_json_values() -> None:
    order = Order(PLACED, prices=(Price(Decimal("42.50")), Price(Decimal("0"), Kind.PASS)), seats={"B.12": 1})

    assert to_plain(order) == {
        "placed_at": "2026-03-14T19:30:00+00:00",
        "prices": [{"amount": "42.50"}, {"amount": "0", "kind": "pass"}],
        "seats": [{"key": "B.12", "value": 1}],
    }


def test_a_default_of_another_type_is_kept_a_false_zero_is_not_false() -> None:
    assert to_plain(Order(PLACED, paid=0))["paid"] == 0  # type: ignore[arg-type]


def test_every_kind_of_field_reads_back_unchanged() -> None:
    order = Order(
        PLACED,
        prices=(Price(Decimal("12.00"), Kind.PASS),),
        refunded_on=date(2026, 4, 1),
        tags=frozenset({"gala", "jeunesse"}),
        seats={"$A": 2, "B.1": 1},
        paid=True,
    )

    assert to_plain(order)["tags"] == ["gala", "jeunesse"]
    assert from_plain(to_plain(order), Order) == order
    assert from_plain(to_plain(Order(PLACED)), Order) == Order(PLACED)


@pytest.mark.parametrize(
    ("document", "where"),
    [
        ({"placed_at": "2026-03-14T19:30:00"}, "placed_at: 2026-03-14T19:30:00 has no time zone"),
        ({"placed_at": 17}, "placed_at: expected text, found int"),
        ({}, "document: 'placed_at' is missing"),
        ([], "document: expected an object, found list"),
        ({"placed_at": "2026-03-14T19:30:00+00:00", "prices": {}}, "prices: expected a list, found dict"),
        (
            {"placed_at": "2026-03-14T19:30:00+00:00", "prices": [{"amount": "1"}, {"amount": "x"}]},
            "prices[1].amount: ",
        ),
        ({"placed_at": "2026-03-14T19:30:00+00:00", "prices": [{"amount": "1", "kind": "box"}]}, "prices[0].kind: "),
        (
            {"placed_at": "2026-03-14T19:30:00+00:00", "seats": [{"key": "B.12", "value": "one"}]},
            "seats.B.12: expected int, found str",
        ),
        ({"placed_at": "2026-03-14T19:30:00+00:00", "seats": [{"value": 1}]}, "seats: 'key'"),
        ({"placed_at": "2026-03-14T19:30:00+00:00", "paid": 1}, "paid: expected bool, found int"),
        ({"placed_at": "2026-03-14T19:30:00+00:00", "refunded_on": "avril"}, "refunded_on: "),
    ],
)
def test_a_document_that_does_not_fit_is_refused_naming_where(document: object, where: str) -> None:
    with pytest.raises(DocumentError) as refused:
        from_plain(document, Order)

    assert str(refused.value).startswith(where)


def test_a_path_given_prefixes_the_place_named() -> None:
    with pytest.raises(DocumentError, match=r"^orders\.placed_at: expected text"):
        from_plain({"placed_at": None}, Order, path="orders")


def test_a_value_with_no_document_form_is_refused() -> None:
    with pytest.raises(TypeError, match="no document form for set"):
        to_plain({1, 2})
