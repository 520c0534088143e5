import argparse
import io
import sys

import pytest

from services.console.domain.passwords import (
    MIN_PASSWORD_LENGTH,
    PasswordRejectedError,
    check_new_password,
    hash_password,
    unknown_user_hash,
    verify_password,
)
from services.console.entrypoints.cli import _password

# A low work factor keeps these tests fast; the stored record names its own, so verification follows it.
FAST = 2**10


def test_a_password_verifies_against_its_own_hash_and_no_other_password_does() -> None:
    stored = hash_password("correct horse battery", n=FAST)
    assert verify_password("correct horse battery", stored)
    assert not verify_password("correct horse batterY", stored)
    assert not verify_password("", stored)


def test_the_same_password_hashes_differently_each_time_because_of_its_salt() -> None:
    assert hash_password("correct horse battery", n=FAST) != hash_password("correct horse battery", n=FAST)


def test_the_stored_record_names_scrypt_and_its_parameters_and_never_holds_the_password() -> None:
    stored = hash_password("correct horse battery", n=FAST)
    scheme, n, r, p, _salt, _digest = stored.split("$")
    assert (scheme, n, r, p) == ("scrypt", str(FAST), "8", "1")
    assert "correct" not in stored


@pytest.mark.parametrize(
    "stored",
    [
        "",
        "plain",
        "bcrypt$1$2$3$4$5",
        "scrypt$x$8$1$AAAA$BBBB",
        "scrypt$1024$8$1$not base64!$AAAA",
        "scrypt$3$8$1$AA$BB",
    ],
)
def test_a_malformed_record_never_verifies_and_never_raises(stored: str) -> None:
    assert verify_password("anything at all", stored) is False


def test_the_stand_in_hash_for_unknown_users_is_made_once_and_verifies_nothing_typed() -> None:
    assert unknown_user_hash() is unknown_user_hash()
    assert not verify_password("correct horse battery", unknown_user_hash())


def test_a_new_password_shorter_than_the_minimum_is_refused_in_both_languages() -> None:
    with pytest.raises(PasswordRejectedError) as refused:
        check_new_password("x" * (MIN_PASSWORD_LENGTH - 1), username="marie")
    assert str(MIN_PASSWORD_LENGTH) in refused.value.en
    assert "caractères" in refused.value.fr


def test_a_new_password_equal_to_the_username_is_refused_whatever_its_case() -> None:
    with pytest.raises(PasswordRejectedError):
        check_new_password("Marie.Gagnon.Billetterie", username="marie.gagnon.billetterie")


def test_a_long_enough_password_is_accepted() -> None:
    check_new_password("correct horse battery", username="marie")


def test_a_password_piped_with_a_windows_line_ending_is_stored_without_it(monkeypatch: pytest.MonkeyPatch) -> None:
    # A file saved on Windows, or PowerShell's echo: Python on Linux leaves the carriage return in the line.
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"s3cret-password\r\n"), newline="\n"))

    assert _password(argparse.Namespace(generate=False, password_stdin=True)) == ("s3cret-password", False)
