"""Staff passwords, stored as scrypt hashes: slow to guess from a stolen store, checked in constant time."""

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from functools import cache

# scrypt at N=2^15, r=8 takes about 50 ms and 32 MiB per check: cheap for one login, costly for a guessing rig.
SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
_SCRYPT_MAX_MEMORY = 64 * 1024 * 1024
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024


@dataclass(frozen=True)
class PasswordRejectedError(ValueError):
    """Why a new password is refused, in both languages."""

    en: str
    fr: str

    def __str__(self) -> str:
        return self.en


def check_new_password(password: str, *, username: str) -> None:
    """Raises PasswordRejectedError for a password too short, too long, or the username itself."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordRejectedError(
            en=f"A password needs at least {MIN_PASSWORD_LENGTH} characters.",
            fr=f"Un mot de passe doit compter au moins {MIN_PASSWORD_LENGTH} caractères.",
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise PasswordRejectedError(
            en=f"A password has at most {MAX_PASSWORD_LENGTH} characters.",
            fr=f"Un mot de passe compte au plus {MAX_PASSWORD_LENGTH} caractères.",
        )
    if password.casefold() == username.casefold():
        raise PasswordRejectedError(
            en="The password cannot be the username.", fr="Le mot de passe ne peut pas être le nom d'utilisateur."
        )


def hash_password(password: str, *, n: int = SCRYPT_N) -> str:
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, n=n, r=SCRYPT_R, p=SCRYPT_P)
    return f"scrypt${n}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether `password` is the one `stored` was made from; False for any malformed record, never raises."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = _unb64(digest)
        computed = _scrypt(password, _unb64(salt), n=int(n), r=int(r), p=int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(expected, computed)


@cache
def unknown_user_hash() -> str:
    """Checked when the username is unknown, so that a wrong username takes as long to refuse as a wrong password."""
    return hash_password(secrets.token_urlsafe(16))


def _scrypt(password: str, salt: bytes, *, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=_SCRYPT_MAX_MEMORY, dklen=32)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
