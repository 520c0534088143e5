"""Secrets at rest: signing secrets and API keys are stored sealed (Fernet: AES-CBC with an HMAC), never in clear."""

import base64
import hashlib
import ipaddress
import logging

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from shared.bilingual import BilingualValueError

log = logging.getLogger(__name__)

SEALED_PREFIX = "fernet:"
KEY_VARIABLE = "PARTERRE_NOTIFY_SECRETS_KEY"
# Known to everyone who reads this file: it keeps a laptop's demo working across restarts, and protects nothing.
DEVELOPMENT_KEY = base64.urlsafe_b64encode(hashlib.sha256(b"parterre notify development key").digest()).decode()


class SecretsKeyError(BilingualValueError):
    """The secrets key is missing where one is required, malformed, or not the key the secrets were sealed with."""


class SecretBox:
    """Seals with the first key and opens with any, so a new key can be put first while the old ones still open."""

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise SecretsKeyError(en=f"{KEY_VARIABLE} names no key", fr=f"{KEY_VARIABLE} ne nomme aucune clé")
        try:
            fernets = [Fernet(key.strip().encode()) for key in keys]
            self._first = fernets[0]
            self._fernet = MultiFernet(fernets)
        except ValueError as exc:
            raise SecretsKeyError(
                en=f"{KEY_VARIABLE} must be Fernet keys (32 bytes, URL-safe base64), comma-separated: {exc}",
                fr=f"{KEY_VARIABLE} doit donner des clés Fernet (32 octets en base64 pour URL), séparées par des "
                f"virgules : {exc}",
            ) from exc

    def seal(self, secret: str) -> str:
        return SEALED_PREFIX + self._fernet.encrypt(secret.encode()).decode()

    def open(self, stored: str) -> str:
        """The secret `seal` made `stored` from; a value stored before sealing began is returned as it is."""
        if not stored.startswith(SEALED_PREFIX):
            return stored
        try:
            return self._fernet.decrypt(stored.removeprefix(SEALED_PREFIX).encode()).decode()
        except InvalidToken as exc:
            raise SecretsKeyError(
                en=f"a stored secret was sealed with a key {KEY_VARIABLE} does not hold",
                fr=f"un secret enregistré a été scellé avec une clé que {KEY_VARIABLE} ne contient pas",
            ) from exc

    def resealed(self, stored: str) -> str | None:
        """`stored` sealed again with the first key (or sealed, if it was stored before sealing began), or None if
        it is sealed with it already; raises SecretsKeyError if no key opens it. Once every stored value is sealed
        with the first key, the keys after it can go."""
        if stored.startswith(SEALED_PREFIX):
            try:
                self._first.decrypt(stored.removeprefix(SEALED_PREFIX).encode())
            except InvalidToken:
                return self.seal(self.open(stored))
            return None
        # Stored before sealing began: sealed now.
        return self.seal(stored)


def new_key() -> str:
    return Fernet.generate_key().decode()


def _listens_on_loopback_only(http_host: str) -> bool:
    if http_host == "localhost":
        return True
    try:
        return ipaddress.ip_address(http_host).is_loopback
    except ValueError:
        return False


def secret_box(configured: str, *, http_host: str) -> SecretBox:
    """The box the settings ask for. Without a key, a service reachable only from this machine (a laptop, a demo,
    the tests) uses the development key with a warning; one listening on the network refuses to start."""
    keys = [key for key in configured.split(",") if key.strip()]
    if keys:
        return SecretBox(keys)
    if not _listens_on_loopback_only(http_host):
        make_key = '`python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`'
        raise SecretsKeyError(
            en=f"{KEY_VARIABLE} is not set, and this service listens on {http_host}, beyond this machine: set it to a "
            f"key made by {make_key} and keep it, or the stored signing secrets and API keys cannot be read again",
            fr=f"{KEY_VARIABLE} n'est pas défini, et ce service écoute sur {http_host}, au-delà de cette machine : "
            f"donnez-lui une clé faite par {make_key} et conservez-la, sans quoi les secrets de signature et les clés "
            "d'API enregistrés ne pourront plus être lus",
        )
    log.warning("%s is not set: sealing secrets with the development key, fit for this machine only", KEY_VARIABLE)
    return SecretBox([DEVELOPMENT_KEY])
