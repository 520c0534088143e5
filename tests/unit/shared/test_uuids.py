"""`uuid5_text` and `uuid5_hex` are the standard version-5 UUID of a name, as text and as its hex digits: ids already
given stay the same."""

from uuid import UUID, uuid5

from hypothesis import given
from hypothesis import strategies as st

from shared.uuids import uuid5_hex, uuid5_text


@given(st.uuids(), st.text())
def test_the_id_of_any_name_in_any_namespace_is_the_standard_uuid5(namespace: UUID, name: str) -> None:
    assert uuid5_text(namespace, name) == str(uuid5(namespace, name))
    assert uuid5_hex(namespace, name) == uuid5(namespace, name).hex


def test_an_id_given_before_is_given_again() -> None:
    namespace = UUID("8f3e2b1c-5d4a-4c6e-9a7b-2e1f0d3c4b5a")

    assert uuid5_text(namespace, "org|src|a") == "c9444de1-f501-5f52-862e-6ae587c260a9"


def test_a_person_id_given_before_is_given_again() -> None:
    namespace = UUID("8f3e2b1c-5d4a-4c6e-9a7b-2e1f0d3c4b5a")

    assert uuid5_hex(namespace, "org|src|a") == "c9444de1f5015f52862e6ae587c260a9"
