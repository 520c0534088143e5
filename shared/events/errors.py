"""Field-level validation errors, in the shape the ingest API shows its clients."""

from collections.abc import Iterable, Sequence

from pydantic import BaseModel, ConfigDict, Field, ValidationError

# The path of an error about the event as a whole (not JSON, not an object).
WHOLE_EVENT = "$"


class FieldError(BaseModel):
    """One reason an event was rejected, and where."""

    model_config = ConfigDict(
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "field": "data.lines.0.unit_price.amount",
                    "reason": "Decimal input should have no more than 2 decimal places",
                    "code": "decimal_max_places",
                }
            ]
        },
    )

    field: str = Field(description="Dotted path of the offending attribute as sent, e.g. `data.person.email`.")
    reason: str = Field(description="What is wrong, for a person to read.")
    code: str = Field(description="A stable machine-readable code, e.g. `missing` or `timezone_aware`.")


class EventValidationError(ValueError):
    """An event, or its data, does not satisfy its contract."""

    def __init__(self, errors: Iterable[FieldError]) -> None:
        self.errors: tuple[FieldError, ...] = tuple(errors)
        super().__init__("; ".join(f"{error.field}: {error.reason}" for error in self.errors))

    @classmethod
    def from_pydantic(cls, exc: ValidationError, *, under: Sequence[str] = ()) -> "EventValidationError":
        return cls(field_errors(exc, under=under))


def field_errors(exc: ValidationError | EventValidationError, *, under: Sequence[str] = ()) -> list[FieldError]:
    """The errors of `exc` with dotted paths, each prefixed by `under` (e.g. `("data",)` for an event's data).

    The offending input is left out on purpose: it may be personal information, and it goes back over the wire.
    """
    if isinstance(exc, EventValidationError):
        return [
            error.model_copy(update={"field": _join([*under, error.field])}) if under else error for error in exc.errors
        ]
    return [
        FieldError(
            field=_join([*under, *(str(part) for part in error["loc"])]), reason=error["msg"], code=error["type"]
        )
        for error in exc.errors(include_url=False, include_input=False)
    ]


def _join(parts: Sequence[str]) -> str:
    return ".".join(part for part in parts if part != WHOLE_EVENT) or WHOLE_EVENT
