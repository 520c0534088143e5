"""`quick_init` makes records as their dataclass's own `__init__` makes them, from the same arguments, or refuses the
class when it is made."""

import dataclasses
import importlib
import inspect
import pkgutil
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import services
import shared
from shared.records import quick_init


@quick_init
@dataclasses.dataclass(frozen=True, slots=True)
class SlottedSeat:
    row: str
    number: int = 1
    tags: list[str] = dataclasses.field(default_factory=list)
    zone: str | None = dataclasses.field(default=None, kw_only=True)


# `SlottedSeat` without slots: the quick `__init__` sets its fields another way.
@quick_init
@dataclasses.dataclass(frozen=True)
class Seat:
    row: str
    number: int = 1
    tags: list[str] = dataclasses.field(default_factory=list)
    zone: str | None = dataclasses.field(default=None, kw_only=True)


@quick_init
@dataclasses.dataclass(frozen=True, slots=True)
class Nothing:
    pass


KINDS = [SlottedSeat, Seat]
FIELDS = [field.name for field in dataclasses.fields(Seat)]


def _made_by_the_dataclass(kind: type[Any], /, *arguments: Any, **keywords: Any) -> Any:
    record = object.__new__(kind)
    kind.__init__.__wrapped__(record, *arguments, **keywords)
    return record


def _fields_of(record: Any) -> list[Any]:
    return [getattr(record, name) for name in FIELDS]


@given(
    st.sampled_from(KINDS),
    st.text(max_size=3),
    st.fixed_dictionaries(
        {},
        optional={
            "number": st.integers(),
            "tags": st.lists(st.text(max_size=2)),
            "zone": st.none() | st.text(max_size=2),
        },
    ),
    st.booleans(),
)
def test_a_record_holds_what_the_dataclass_init_gives_for_the_same_arguments(
    kind: type[Any], row: str, given_fields: dict[str, Any], row_by_name: bool
) -> None:
    arguments = () if row_by_name else (row,)
    keywords = {"row": row, **given_fields} if row_by_name else given_fields

    record = kind(*arguments, **keywords)

    expected = _made_by_the_dataclass(kind, *arguments, **keywords)
    assert _fields_of(record) == _fields_of(expected)
    assert record == expected


@pytest.mark.parametrize("kind", KINDS)
def test_a_default_made_by_a_factory_is_a_new_value_for_each_record(kind: type[Any]) -> None:
    first, second = kind("A"), kind("B")

    assert first.tags == []
    assert second.tags == []
    assert first.tags is not second.tags


@pytest.mark.parametrize("kind", KINDS)
def test_a_given_value_is_kept_as_given(kind: type[Any]) -> None:
    tags = ["aisle"]

    assert kind("A", 3, tags, zone="balcony").tags is tags


@pytest.mark.parametrize("kind", KINDS)
def test_the_record_stays_frozen(kind: type[Any]) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        kind("A").row = "B"


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("arguments", "keywords", "refusal"),
    [
        ((), {}, "missing 1 required positional argument: 'row'"),
        (("A",), {"seat": 4}, "unexpected keyword argument 'seat'"),
        (("A", 1, [], "balcony"), {}, "takes from 2 to 4 positional arguments but 5 were given"),
        (("A",), {"row": "B"}, "multiple values for argument 'row'"),
    ],
)
def test_wrong_arguments_are_refused_as_the_dataclass_init_refuses_them(
    kind: type[Any], arguments: tuple[Any, ...], keywords: dict[str, Any], refusal: str
) -> None:
    with pytest.raises(TypeError, match=refusal):
        kind(*arguments, **keywords)
    with pytest.raises(TypeError, match=refusal):
        _made_by_the_dataclass(kind, *arguments, **keywords)


def test_a_record_without_fields_is_made_too() -> None:
    assert Nothing() == Nothing()


@dataclasses.dataclass(frozen=True)
class WorkedOut:
    row: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "row", self.row.upper())


@dataclasses.dataclass(frozen=True)
class WithInitOnly:
    row: str
    prefix: dataclasses.InitVar[str] = ""


@dataclasses.dataclass(frozen=True)
class WithLabel:
    row: str
    label: str = dataclasses.field(init=False, default="")


@dataclasses.dataclass(frozen=True, slots=True)
class SlottedBase:
    row: str


@dataclasses.dataclass(frozen=True)
class PartlySlotted(SlottedBase):
    # `row` in its base's slot, `number` in the instance's dict.
    number: int = 1


@dataclasses.dataclass(frozen=True)
class NamedLikeItsHelpers:
    _record: str


@dataclasses.dataclass
class Mutable:
    row: str


@dataclasses.dataclass(frozen=True, init=False)
class MadeItsOwnWay:
    row: str

    def __init__(self, text: str) -> None:
        object.__setattr__(self, "row", text.strip())


class NoDataclass:
    pass


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        (Mutable, "it is not frozen"),
        (MadeItsOwnWay, "it has an __init__ of its own"),
        (WorkedOut, "it has a __post_init__"),
        (WithInitOnly, "its __init__ takes more than its fields"),
        (WithLabel, "a field is left out of __init__"),
        (PartlySlotted, "some fields are slots, some are not"),
        (NamedLikeItsHelpers, "a field's name is one the new __init__ uses"),
        (NoDataclass, "takes a dataclass"),
    ],
)
def test_a_class_it_cannot_make_quicker_is_refused_with_the_reason(kind: type[Any], reason: str) -> None:
    original = kind.__init__

    with pytest.raises(TypeError, match=reason):
        quick_init(kind)

    assert kind.__init__ is original


def _quick_records() -> list[type[Any]]:
    """Every class of the project `quick_init` made quicker."""
    found: dict[str, type[Any]] = {}
    for package in (services, shared):
        for module_info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if ".entrypoints." in module_info.name or module_info.name.endswith("__main__"):
                continue
            module = importlib.import_module(module_info.name)
            for value in vars(module).values():
                if (
                    isinstance(value, type)
                    and value.__module__ == module.__name__
                    and hasattr(value.__dict__.get("__init__"), "__wrapped__")
                ):
                    found[f"{value.__module__}.{value.__qualname__}"] = value
    return [found[name] for name in sorted(found)]


QUICK_RECORDS = _quick_records()


def test_the_records_made_by_the_thousand_are_made_quicker() -> None:
    names = {kind.__name__ for kind in QUICK_RECORDS}

    assert {"Identifier", "Person", "NormalisedRecord", "Resolution", "Decision", "JournalEntry"} <= names


@pytest.mark.parametrize("kind", QUICK_RECORDS, ids=lambda kind: kind.__qualname__)
def test_each_record_made_quicker_takes_the_arguments_of_its_dataclass_and_holds_them(kind: type[Any]) -> None:
    quick = inspect.signature(kind.__init__, follow_wrapped=False)
    own = inspect.signature(kind.__init__.__wrapped__)
    assert [(p.name, p.kind, p.default is p.empty) for p in quick.parameters.values()][1:] == [
        (p.name, p.kind, p.default is p.empty) for p in own.parameters.values()
    ][1:]
    # The same default value, but where a factory makes it: each `__init__` has a marker of its own for that.
    by_factory = {field.name for field in dataclasses.fields(kind) if field.default_factory is not dataclasses.MISSING}
    assert all(
        quick.parameters[name].default is parameter.default
        for name, parameter in own.parameters.items()
        if name not in by_factory and parameter.default is not parameter.empty
    )
    # A marker of its own in every field: each must land where the dataclass's own `__init__` puts it.
    markers = {field.name: object() for field in dataclasses.fields(kind)}

    record = kind(**markers)

    expected = _made_by_the_dataclass(kind, **markers)
    assert all(getattr(record, name) is marker for name, marker in markers.items())
    assert all(getattr(expected, name) is marker for name, marker in markers.items())
