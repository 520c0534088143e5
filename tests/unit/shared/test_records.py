"""`replaced` gives what `dataclasses.replace` gives, copying the fields instead of calling `__init__` again."""

import dataclasses
import functools
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.profile.domain.profile import ProfileState
from services.profile.ports import StoredProfile
from shared.records import replaced


@dataclasses.dataclass(frozen=True)
class Ticket:
    seat: str
    price: int = 0
    tags: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class SlottedTicket:
    seat: str
    price: int = 0
    tags: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Seat:
    row: str


@dataclasses.dataclass(frozen=True, slots=True)
class SlottedSeatTicket(Seat):
    # `row` is kept in the instance's dict (its base has no slots), `price` in a slot.
    price: int = 0


@dataclasses.dataclass(frozen=True)
class Entry:
    pass


@dataclasses.dataclass(frozen=True)
class PricedTicket:
    seat: str
    price: int
    label: str = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "label", f"{self.seat} at {self.price}")


@dataclasses.dataclass(frozen=True)
class CachedTicket:
    seat: str

    @functools.cached_property
    def row(self) -> str:
        return self.seat[0]


CHANGES = st.fixed_dictionaries(
    {},
    optional={"seat": st.text(max_size=3), "price": st.integers(), "tags": st.lists(st.text(max_size=2)).map(tuple)},
)


@given(st.sampled_from([Ticket, SlottedTicket]), st.text(max_size=3), st.integers(), CHANGES)
def test_a_copy_with_any_fields_changed_is_what_replace_gives(
    kind: type[Any], seat: str, price: int, changes: dict[str, Any]
) -> None:
    record = kind(seat, price)

    copy = replaced(record, **changes)

    assert type(copy) is kind
    assert copy == dataclasses.replace(record, **changes)
    assert record == kind(seat, price), "the record copied is left as it was"
    assert all(getattr(copy, name) is value for name, value in changes.items())


@pytest.mark.parametrize("kind", [Ticket, SlottedTicket])
def test_a_name_that_is_no_field_is_refused_as_replace_refuses_it(kind: type[Any]) -> None:
    with pytest.raises(TypeError, match="row"):
        dataclasses.replace(kind("A1"), row="A")
    with pytest.raises(TypeError, match="no field row"):
        replaced(kind("A1"), row="A")


def test_a_record_with_fields_both_in_slots_and_in_its_dict_is_copied_whole() -> None:
    copy = replaced(SlottedSeatTicket("C", 20), price=25)

    assert (copy.row, copy.price) == ("C", 25)
    assert replaced(copy, row="D") == SlottedSeatTicket("D", 25)


def test_a_record_with_one_field_or_none_is_copied_too() -> None:
    assert replaced(Seat("C")) == Seat("C")
    assert replaced(Seat("C"), row="D") == Seat("D")
    assert replaced(Entry()) == Entry()


def test_a_record_whose_init_works_something_out_is_made_by_its_init() -> None:
    copy = replaced(PricedTicket("A1", 30), price=45)

    assert copy.label == "A1 at 45"


def test_a_cached_property_of_the_record_is_not_carried_to_its_copy() -> None:
    record = CachedTicket("A1")
    assert record.row == "A"

    assert replaced(record, seat="B7").row == "B"


@pytest.mark.parametrize("name", [field.name for field in dataclasses.fields(ProfileState)])
def test_a_profile_state_with_any_one_field_changed_is_what_replace_gives(name: str) -> None:
    state = ProfileState(bounces=2, social_engagements=5)
    marker: Any = object()
    changes: dict[str, Any] = {name: marker}

    copy = replaced(state, **changes)

    assert copy == dataclasses.replace(state, **changes)
    assert getattr(copy, name) is marker


def test_a_stored_profile_copied_keeps_every_other_field() -> None:
    stored = StoredProfile("org", "per_1", version=4, applied=7, segments=frozenset({"donors"}))

    copy = replaced(stored, version=5)

    assert copy == dataclasses.replace(stored, version=5)
    assert (copy.applied, copy.segments, copy.person_id) == (7, frozenset({"donors"}), "per_1")
