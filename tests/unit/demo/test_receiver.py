"""The demo receiver checks Standard Webhooks signatures the way any receiver would: notify's own signatures pass,
anything else is refused, and a redelivered message is counted once."""

import json
import socket
import time

from demo.receiver import DemoReceiver, signature_valid
from services.notify.domain.signing import new_secret, signature_headers


def _message(rule: str = "welcome-first-purchase") -> bytes:
    body = {"type": "parterre.trigger.fired.v1", "timestamp": "2026-11-29T12:00:00+00:00"}
    return json.dumps({**body, "data": {"rule": rule, "person_id": "p-1"}}).encode()


def test_a_signature_made_by_notify_verifies_and_a_tampered_body_does_not() -> None:
    secret, body, now = new_secret(), _message(), int(time.time())
    headers = signature_headers([secret], "msg_1", now, body)

    assert signature_valid(secret, headers, body, now=now)
    assert not signature_valid(secret, headers, body + b" ", now=now)
    assert not signature_valid(new_secret(), headers, body, now=now)
    assert not signature_valid(secret, headers, body, now=now + 6 * 60)


def test_the_receiver_counts_each_message_once_and_refuses_unsigned_ones() -> None:
    receiver = DemoReceiver()
    receiver.secret = new_secret()
    body, now = _message(), int(time.time())
    headers = signature_headers([receiver.secret], "msg_1", now, body)

    first = receiver.accept(headers, body)
    again = receiver.accept(headers, body)
    unsigned = receiver.accept({"webhook-id": "msg_2"}, body)

    assert (first, again, unsigned) == (204, 204, 401)
    assert receiver.received.verified == 1
    assert receiver.received.repeated == 1
    assert receiver.received.refused == 1
    assert receiver.received.by_name["welcome-first-purchase"] == 1


def test_a_sender_hanging_up_mid_body_is_not_counted_as_a_refused_signature() -> None:
    receiver = DemoReceiver()
    receiver.secret = new_secret()
    body, now = _message(), int(time.time())
    headers = signature_headers([receiver.secret], "msg_1", now, body)
    receiver.start()
    try:
        host, port = receiver.url.removeprefix("http://").split("/", 1)[0].split(":")
        request = (
            f"POST /webhooks/parterre HTTP/1.1\r\nHost: {host}\r\nContent-Length: {len(body)}\r\n"
            + "".join(f"{name}: {value}\r\n" for name, value in headers.items())
            + "\r\n"
        ).encode() + body[: len(body) // 2]
        with socket.create_connection((host, int(port)), timeout=5) as sender:
            sender.sendall(request)
            sender.shutdown(socket.SHUT_WR)  # killed mid-request: the rest of the body never comes
            answer = sender.recv(1024)
    finally:
        receiver.stop()

    assert answer.startswith(b"HTTP/1.0 400") or answer.startswith(b"HTTP/1.1 400")
    assert (receiver.received.refused, receiver.received.verified) == (0, 0)
