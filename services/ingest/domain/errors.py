"""Errors an adapter reports about upstream input, field by field, in the vendor's own field names."""

from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from shared.events import FieldError
from shared.events.errors import french_reason

ModelT = TypeVar("ModelT", bound=BaseModel)


class AdapterError(ValueError):
    """An upstream payload cannot be turned into events; `errors` name each offending field as the vendor spells it."""

    def __init__(self, errors: Iterable[FieldError]) -> None:
        self.errors: list[FieldError] = list(errors)
        super().__init__("; ".join(f"{error.field}: {error.reason}" for error in self.errors))

    @classmethod
    def single(cls, field: str, reason: str, code: str) -> "AdapterError":
        return cls([FieldError(field=field, reason=reason, code=code)])


class Problems:
    """The errors found so far in one payload or row, so that all of them are reported at once, not the first."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def add(self, field: str, reason: str, code: str, *, fr: str = "") -> None:
        """Note a problem with `field`; `fr` says it in French, else the French of its `code` is used."""
        self.errors.append(FieldError(field=field, reason=reason, reason_fr=fr, code=code))

    def __len__(self) -> int:
        return len(self.errors)

    def raise_if_any(self) -> None:
        if self.errors:
            raise AdapterError(self.errors)

    def validate(
        self,
        model: type[ModelT],
        values: Mapping[str, Any],
        origins: Mapping[str, str] | Callable[[], Mapping[str, str]],
        *,
        whole: str,
    ) -> ModelT | None:
        """`values` as a `model`, or None after noting each error under the vendor field it came from.

        `origins` maps a dotted model path (`person.email`, `total`) to the vendor field it was read from; an error
        is reported under the longest origin that prefixes its path (list positions aside), else under `whole`.
        `origins` may be a function, called only when there is an error to place.
        """
        try:
            return model.model_validate(values)
        except ValidationError as exc:
            if callable(origins):
                origins = origins()
            for error in exc.errors(include_url=False, include_input=False):
                path = [str(part) for part in error["loc"]]
                self.add(
                    _origin_of(path, origins, whole),
                    error["msg"],
                    error["type"],
                    fr=french_reason(error["type"], error.get("ctx")),
                )
            return None


def _origin_of(path: list[str], origins: Mapping[str, str], whole: str) -> str:
    # List positions are left out of the lookup: `tickets.1.price` came from the same cell as `tickets.0.price`.
    named = [part for part in path if not part.isdigit()]
    for end in range(len(named), 0, -1):
        origin = origins.get(".".join(named[:end]))
        if origin is not None:
            return origin
    return whole
