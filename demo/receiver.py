"""The demo's marketing tool: a webhook receiver on loopback that checks each Standard Webhooks signature and counts
what notify delivers to it."""

import base64
import binascii
import hashlib
import hmac
import json
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# Standard Webhooks: receivers refuse a timestamp more than five minutes from their clock.
TOLERANCE_SECONDS = 5 * 60
SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's marker, not a secret


def signature_valid(secret: str, headers: Mapping[str, str], body: bytes, *, now: float) -> bool:
    """Whether one `v1,` signature in `webhook-signature` is the HMAC-SHA256 of `{id}.{timestamp}.{body}` under the
    `whsec_` secret, and the timestamp is within the tolerance (standardwebhooks.com, "Verifying webhooks")."""
    lowered = {name.lower(): value for name, value in headers.items()}
    message_id = lowered.get("webhook-id")
    timestamp = lowered.get("webhook-timestamp", "")
    offered = lowered.get("webhook-signature", "").split()
    if not message_id or not timestamp.isdigit() or abs(now - int(timestamp)) > TOLERANCE_SECONDS:
        return False
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        return False
    digest = hmac.new(key, f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    expected = "v1," + base64.b64encode(digest).decode()
    return any(hmac.compare_digest(expected, candidate) for candidate in offered)


@dataclass
class Received:
    """What the receiver has seen; read it under `lock`."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    verified: int = 0
    refused: int = 0
    # Redeliveries of a message already received (same `webhook-id`): at-least-once delivery makes them possible.
    repeated: int = 0
    by_type: Counter[str] = field(default_factory=Counter)
    by_name: Counter[str] = field(default_factory=Counter)
    message_ids: set[str] = field(default_factory=set)
    people: set[str] = field(default_factory=set)
    example: dict[str, Any] | None = None


class DemoReceiver:
    """A small HTTP server in a background thread; `secret` is set once notify has issued it."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.received = Received()
        self.secret: str | None = None
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if len(body) < length:
                    # The sender went away mid-request (notify killed, say): nothing was delivered, nothing to
                    # verify; it sends the message again, whole.
                    self.send_response(400)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                status = receiver.accept(dict(self.headers.items()), body)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the summary reports what arrived."""

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="demo-receiver", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/webhooks/parterre"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def accept(self, headers: Mapping[str, str], body: bytes) -> int:
        received = self.received
        if self.secret is None or not signature_valid(self.secret, headers, body, now=time.time()):
            with received.lock:
                received.refused += 1
            return 401
        message = json.loads(body)
        message_id = {name.lower(): value for name, value in headers.items()}["webhook-id"]
        data = message.get("data") or {}
        with received.lock:
            if message_id in received.message_ids:
                received.repeated += 1
                return 204
            received.message_ids.add(message_id)
            received.verified += 1
            received.by_type[str(message.get("type"))] += 1
            received.by_name[str(data.get("rule") or data.get("segment"))] += 1
            if data.get("person_id"):
                received.people.add(str(data["person_id"]))
            if received.example is None and data.get("rule"):
                received.example = message
        return 204
