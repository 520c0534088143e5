"""The CloudEvents 1.0 envelope (JSON structured mode) every Parterre event travels in."""

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    WithJsonSchema,
    model_validator,
)
from pydantic.functional_validators import AfterValidator
from pydantic_core import PydanticCustomError

from shared.events.common import SLUG_PATTERN, Moment
from shared.events.errors import EventValidationError

CLOUDEVENTS_SPEC_VERSION = "1.0"
# CloudEvents attribute names must be lowercase ASCII letters and digits; at most 20 is only advised (so a
# longer one is kept), and 64 keeps a name from being a payload of its own.
ExtensionName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9]{1,64}$")]
# A URI-reference may be relative (`/orgs/theatre-du-nord/sources/shopify-main`) but never contains whitespace.
UriReference = Annotated[str, StringConstraints(min_length=1, max_length=2048, pattern=r"^\S+$")]
_CLOUDEVENTS_INTEGER_RANGE = range(-(2**31), 2**31)
# The major version a type's name ends with (`.v2`).
_NAMED_VERSION = re.compile(r"\.v([1-9][0-9]{0,8})$")


def _media_type(value: Any) -> Any:
    # `application/json; charset=utf-8` is JSON too: CloudEvents reads a media type without its parameters.
    return value.split(";", 1)[0].strip().lower() if isinstance(value, str) else value


def _cloudevents_extension_value(value: Any) -> str | int | bool:
    # The CloudEvents type system maps to JSON strings, 32-bit integers and booleans; objects and floats have no
    # CloudEvents type, and a Kafka binary-mode `ce_` header could not carry them.
    if isinstance(value, bool | str) or (isinstance(value, int) and value in _CLOUDEVENTS_INTEGER_RANGE):
        return value
    raise PydanticCustomError(
        "extension_value_invalid", "An extension attribute is a string, a boolean or a 32-bit integer"
    )


ExtensionValue = Annotated[
    Any,
    AfterValidator(_cloudevents_extension_value),
    WithJsonSchema({"anyOf": [{"type": "string"}, {"type": "integer"}, {"type": "boolean"}]}),
]


class Envelope(BaseModel):
    """A CloudEvents 1.0 event in JSON structured mode, with Parterre's extension attributes."""

    # The wire speaks CloudEvents attribute names only (`organisationid`, never `organisation_id`): a producer that
    # sends the Python name gets a precise error instead of having it silently accepted or dropped. Unknown
    # attributes are kept, as CloudEvents requires of intermediaries, but must be well-formed extension names so a
    # misspelt known attribute (`organisation_id`, `Source`) is caught rather than carried along.
    model_config = ConfigDict(
        extra="allow",
        frozen=True,
        validate_by_alias=True,
        validate_by_name=False,
        serialize_by_alias=True,
        json_schema_extra={
            "examples": [
                {
                    "specversion": "1.0",
                    "id": "mailchimp-principal:subscribe:8a25ff1d98:1788373868",
                    "source": "/orgs/theatre-du-nord/sources/mailchimp-principal",
                    "type": "parterre.newsletter.subscribed.v1",
                    "time": "2026-09-02T14:31:08-04:00",
                    "datacontenttype": "application/json",
                    "organisationid": "theatre-du-nord",
                    "schemaversion": "1.0",
                    "correlationid": "import-2026-09-02-infolettre",
                    "ingesttime": "2026-09-02T18:31:09.412Z",
                    "data": {
                        "person": {"source": "mailchimp-principal", "email": "elise.gagnon@example.com"},
                        "list_id": "a6b5da1054",
                        "list_name": "Infolettre du Théâtre du Nord",
                    },
                }
            ]
        },
    )
    __pydantic_extra__: dict[ExtensionName, ExtensionValue]

    specversion: Literal["1.0"] = Field(description="CloudEvents specification version; always `1.0`.")
    id: str = Field(
        min_length=1,
        max_length=256,
        description="Unique per source; a redelivered or re-sent event keeps its id, which is how duplicates are seen.",
    )
    source: UriReference = Field(
        description="URI-reference of what produced the event, e.g. `/orgs/theatre-du-nord/sources/shopify-main`."
    )
    type: str = Field(
        min_length=1,
        max_length=256,
        description="Event type, versioned in its name, e.g. `parterre.ticket.purchased.v1`.",
    )
    time: Moment = Field(description="When the fact happened upstream (RFC 3339, with a UTC offset).")
    subject: str | None = Field(
        default=None, min_length=1, max_length=256, description="What the event is about within its source."
    )
    datacontenttype: Annotated[Literal["application/json"], BeforeValidator(_media_type)] = Field(
        default="application/json", description="Media type of `data`; Parterre's data is always a JSON object."
    )
    dataschema: UriReference | None = Field(default=None, description="URI of the schema `data` adheres to.")
    data: dict[str, Any] = Field(description="The event's payload, as sent; its typed form depends on `type`.")
    organisation_id: Annotated[str, StringConstraints(pattern=SLUG_PATTERN)] = Field(
        alias="organisationid", description="The organisation (tenant) the event belongs to, e.g. `theatre-du-nord`."
    )
    schema_version: Annotated[str, StringConstraints(pattern=r"^\d+\.\d+$")] = Field(
        # An event without one predates schema versioning, which began at 1.0; one of a later type name (`.v2`)
        # cannot, and is read at its first schema (see `_absent_schema_version_is_the_type_s_first`).
        default="1.0",
        alias="schemaversion",
        description="Version of the data schema of this type: the minor part grows with additive changes.",
    )
    correlation_id: str | None = Field(
        default=None,
        alias="correlationid",
        min_length=1,
        max_length=256,
        description="Ties together the events of one request, import or chain of reactions.",
    )
    person_id: str | None = Field(
        default=None,
        alias="personid",
        min_length=1,
        max_length=256,
        description="Parterre's person id, once identity has resolved who the event is about.",
    )
    ingested_at: Moment | None = Field(
        default=None, alias="ingesttime", description="When ingest accepted the event; for latency metrics."
    )

    @model_validator(mode="before")
    @classmethod
    def _null_attributes_are_absent(cls, attributes: Any) -> Any:
        # CloudEvents' JSON format reads a null attribute as an absent one: an optional one takes its default, a
        # required one is reported missing.
        if isinstance(attributes, dict):
            return {name: value for name, value in attributes.items() if value is not None}
        return attributes

    @model_validator(mode="before")
    @classmethod
    def _absent_schema_version_is_the_type_s_first(cls, attributes: Any) -> Any:
        # A type's name carries its major version (`parterre.newsletter.cleaned.v2` is 2.x): without this, an event
        # of a `.v2` type sent without `schemaversion` would be read as 1.0 and refused as another major version.
        if isinstance(attributes, dict) and attributes.get("schemaversion") is None:
            type_name = attributes.get("type")
            named = _NAMED_VERSION.search(type_name) if isinstance(type_name, str) else None
            if named is not None and named[1] != "1":
                return {**attributes, "schemaversion": f"{named[1]}.0"}
        return attributes

    @property
    def extensions(self) -> dict[str, str | int | bool]:
        """Extension attributes Parterre does not define, kept as received."""
        return dict(self.__pydantic_extra__)

    def to_wire(self) -> dict[str, Any]:
        """The event as a JSON-ready object; absent optional attributes are omitted, as CloudEvents prefers."""
        return {name: value for name, value in self.model_dump(mode="json").items() if value is not None}

    def to_json_bytes(self) -> bytes:
        """The event in CloudEvents JSON format, UTF-8, for a Kafka value or an HTTP body: `to_wire`, compact.

        Serialised by pydantic's own encoder, twice as fast as `json.dumps` of `to_wire` on this hot path; only
        absent attributes are left out, never a null inside `data`.
        """
        absent = {name for name in _OPTIONAL_FIELDS if getattr(self, name) is None}
        return self.__pydantic_serializer__.to_json(self, exclude=absent or None, by_alias=True)

    @classmethod
    def from_json_bytes(cls, raw: bytes) -> "Envelope":
        """Parse one event in CloudEvents JSON format; raises `EventValidationError` naming each bad attribute."""
        try:
            return cls.model_validate_json(raw)
        except ValidationError as exc:
            raise EventValidationError.from_pydantic(exc) from exc


# Extension attributes are never null (a null one is dropped when read), so only these can be absent.
_OPTIONAL_FIELDS = tuple(name for name, field in Envelope.model_fields.items() if not field.is_required())
