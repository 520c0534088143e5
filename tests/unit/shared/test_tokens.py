"""Token format and hashing: the parts of access control that need no server."""

import pytest

from shared.cli import _parser
from shared.tokens import Scope, hash_token, mint_token, token_id_of, validate_organisation_id


def test_a_minted_token_names_its_id_and_hashes_differently_from_another() -> None:
    first_id, first = mint_token()
    second_id, second = mint_token()

    assert token_id_of(first) == first_id
    assert token_id_of(second) == second_id
    assert first_id != second_id
    assert hash_token(first) != hash_token(second)
    assert first not in hash_token(first)


@pytest.mark.parametrize(
    "presented",
    ["", "Bearer prt_x", "prt_0123456789ab", "prt_0123456789ab_short", "prt_XYZ456789abc_" + "a" * 43],
)
def test_malformed_tokens_have_no_id(presented: str) -> None:
    assert token_id_of(presented) is None


@pytest.mark.parametrize("organisation_id", ["theatre-du-nord", "ab", "festival-2026"])
def test_slug_organisation_ids_are_accepted(organisation_id: str) -> None:
    assert validate_organisation_id(organisation_id) == organisation_id


@pytest.mark.parametrize("organisation_id", ["", "a", "Théâtre", "-leading-dash", "with space", "x" * 64])
def test_other_organisation_ids_are_refused_with_the_rule(organisation_id: str) -> None:
    with pytest.raises(ValueError, match="lower-case letters, digits or dashes"):
        validate_organisation_id(organisation_id)


@pytest.mark.parametrize("scope", list(Scope))
def test_the_tokens_command_grants_every_scope(scope: Scope) -> None:
    argv = ["tokens", "create", "--org", "theatre-du-nord", "--scope", scope.value, "--name", "x"]
    arguments = _parser(argv).parse_args(argv)

    assert arguments.scope == [scope.value]
