"""Outbound safety against real loopback receivers: the connection goes to the very address that was checked."""

import asyncio
import gzip
import socket
import ssl
import tracemalloc
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from services.notify.adapters.http import SafeOutbound
from services.notify.domain.targets import OutboundPolicy
from services.notify.ports import HttpAnswer
from tests.integration.notify.receivers import Receiver, serving

LOCAL_HTTP = OutboundPolicy(allow_plain_http=True)


@asynccontextmanager
async def outbound(policy: OutboundPolicy, **options: object) -> AsyncIterator[SafeOutbound]:
    sender = SafeOutbound(policy, timeout_seconds=1.0, **options)  # type: ignore[arg-type]
    await sender.start()
    try:
        yield sender
    finally:
        await sender.close()


def _port(receiver: Receiver) -> int:
    port = urlsplit(receiver.url).port
    assert port is not None
    return port


async def test_a_name_that_resolves_to_loopback_is_refused_when_loopback_is_not_allowed() -> None:
    async with serving(Receiver()) as receiver, outbound(LOCAL_HTTP) as sender:
        answer = await sender.request("POST", f"http://localhost:{_port(receiver)}/hook", body=b"{}")
    assert answer.status_code is None
    assert answer.refused is not None
    assert "loopback" in answer.refused
    assert receiver.received == []


async def test_a_name_that_resolves_to_loopback_is_reached_by_name_when_loopback_is_allowed() -> None:
    policy = OutboundPolicy(allow_plain_http=True, allow_loopback=True)
    async with serving(Receiver()) as receiver, outbound(policy) as sender:
        answer = await sender.request("POST", f"http://localhost:{_port(receiver)}/hook", body=b"{}")
    assert answer.status_code == 200
    [request] = receiver.received
    assert request.headers["host"] == f"localhost:{_port(receiver)}", "the receiver sees the name, not the address"


async def test_the_connection_goes_to_the_checked_address_whatever_the_name_resolves_to_later() -> None:
    # The check's resolution says `localhost` is a private address, which the policy allows; the system's own
    # resolver would now say 127.0.0.1, where the receiver listens and which the policy forbids.
    asked: list[str] = []

    async def first_answer(host: str, port: int) -> list[str]:
        asked.append(host)
        return ["198.18.0.1"]

    policy = OutboundPolicy(allow_plain_http=True, allow_private=True)
    async with serving(Receiver()) as receiver, outbound(policy, resolve=first_answer) as sender:
        answer = await sender.request("POST", f"http://localhost:{_port(receiver)}/hook", body=b"{}")
    assert receiver.received == [], "a second resolution reached the loopback receiver"
    assert asked == ["localhost"], "the name is resolved once per connection"
    assert answer.status_code is None
    assert answer.refused is None


async def test_every_address_of_a_name_is_checked_and_one_forbidden_address_refuses_the_host() -> None:
    async def mixed(host: str, port: int) -> list[str]:
        return ["93.184.215.14", "10.0.0.7"]

    async with serving(Receiver()) as receiver, outbound(LOCAL_HTTP, resolve=mixed) as sender:
        answer = await sender.request("POST", f"http://hooks.example.com:{_port(receiver)}/", body=b"{}")
    assert answer.refused is not None
    assert "10.0.0.7" in answer.refused
    assert receiver.received == []


def _certificate_for(name: str, directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate valid for `name` only, and its key, as PEM files."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "receiver.pem", directory / "receiver.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_file, key_file


@asynccontextmanager
async def serving_tls(app: Receiver, cert_file: Path, key_file: Path) -> AsyncIterator[int]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        app, log_level="warning", lifespan="off", ssl_certfile=str(cert_file), ssl_keyfile=str(key_file)
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event for "listening"
        await asyncio.sleep(0.01)
    try:
        yield sock.getsockname()[1]
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=5)
        sock.close()


async def test_over_https_the_pinned_address_is_reached_with_the_names_tls_server_name_and_certificate(
    tmp_path: Path,
) -> None:
    # The certificate names `receiver.test` only: the handshake verifies only if the TLS server name is the URL's
    # name, although the connection goes to the address checked for it.
    cert_file, key_file = _certificate_for("receiver.test", tmp_path)
    trusted = ssl.create_default_context(cafile=str(cert_file))

    async def to_loopback(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    policy = OutboundPolicy(allow_loopback=True)
    receiver = Receiver()
    async with (
        serving_tls(receiver, cert_file, key_file) as port,
        outbound(policy, resolve=to_loopback, trusted=trusted) as sender,
    ):
        answer = await sender.request("POST", f"https://receiver.test:{port}/hook", body=b"{}")
        wrong_name = await sender.request("POST", f"https://other.test:{port}/hook", body=b"{}")
    assert answer.status_code == 200, answer.error
    assert receiver.received[0].headers["host"] == f"receiver.test:{port}"
    assert wrong_name.status_code is None, "a certificate for another name is refused"
    assert len(receiver.received) == 1


RawReceiver = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def posted_to_raw_receiver(receiver: RawReceiver) -> HttpAnswer:
    """What sending to a loopback receiver that writes its answer by hand gives: how a broken one answers."""
    server = await asyncio.start_server(receiver, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    policy = OutboundPolicy(allow_plain_http=True, allow_loopback=True)
    try:
        async with outbound(policy) as sender:
            return await sender.request("POST", f"http://127.0.0.1:{port}/hook", body=b"{}")
    finally:
        server.close()


@pytest.mark.parametrize("dripped", ["body", "status"])
async def test_a_receiver_dripping_its_answer_byte_by_byte_is_cut_off_at_the_attempt_timeout(dripped: str) -> None:
    # Each byte comes well within the one-second timeout; the whole answer would take about five.
    body = b"x" * 16
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n" % len(body)

    async def drip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await reader.read(2)
        if dripped == "body":
            writer.write(head)
        for byte in body if dripped == "body" else head + body:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.3)
        writer.close()

    answer = await posted_to_raw_receiver(drip)

    assert answer.duration_seconds < 1.5, "cut off at the one-second timeout, not after the five seconds it drips"
    if dripped == "body":
        # The status came at once: the receiver had the message, and only its body is cut off.
        assert (answer.status_code, answer.error) == (200, None)
    else:
        assert (answer.status_code, answer.error) == (None, "no answer within 1 s")


async def test_an_answer_with_an_endless_body_is_read_to_a_limit_and_answered_at_once_with_its_status() -> None:
    # A broken or hostile receiver: a 500 whose body never ends, as fast as the connection takes it.
    async def endless(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 500 Oops\r\nContent-Type: text/plain; charset=utf-8\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        chunk = ("Erreur interne — " * 4096).encode()
        try:
            while True:
                writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    answer = await posted_to_raw_receiver(endless)

    # Read as far as the limit and answered with its status, not cut off when the attempt's time ran out.
    assert answer.status_code == 500
    assert answer.error is not None
    assert answer.error.startswith("Erreur interne — ")
    assert len(answer.error) == 500


def answering(head: bytes, body: bytes, asked: list[bytes] | None = None) -> RawReceiver:
    """A receiver that answers every request with `head` (status line and headers, without the blank line) and
    `body`, noting in `asked` what each request's head was."""

    async def receiver(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request_head = await reader.readuntil(b"\r\n\r\n")
        if asked is not None:
            asked.append(request_head)
        writer.write(head + b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
        try:
            await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()

    return receiver


async def test_answers_are_asked_for_uncompressed() -> None:
    asked: list[bytes] = []

    answer = await posted_to_raw_receiver(answering(b"HTTP/1.1 204 No Content", b"", asked))

    assert answer.status_code == 204
    assert b"\r\naccept-encoding: identity\r\n" in asked[0].lower()


async def test_a_compressed_answer_sent_anyway_is_inflated_no_further_than_the_limit() -> None:
    # 64 MB of zeros in 64 KB of gzip: what httpx's own decoding inflated in one piece.
    bomb = gzip.compress(bytes(64 << 20), compresslevel=9)
    head = b"HTTP/1.1 500 Oops\r\nContent-Type: text/plain\r\nContent-Encoding: gzip"

    tracemalloc.start()
    try:
        answer = await posted_to_raw_receiver(answering(head, bomb))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert answer.status_code == 500
    assert answer.error == "\x00" * 500
    assert peak < 16 << 20, f"{peak:,} bytes held at the peak"


async def test_a_json_answer_compressed_with_gzip_or_deflate_is_read() -> None:
    member = b'{"id": "8a25ff1d98", "status": "subscribed", "merge_fields": {"FNAME": "\xc3\x89lise"}}'
    deflated = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    raw_deflate = deflated.compress(member) + deflated.flush()
    bodies = {"gzip": gzip.compress(member), "deflate": zlib.compress(member)}

    answers = [
        await posted_to_raw_receiver(
            answering(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: " + name, body)
        )
        for name, body in [(b"gzip", bodies["gzip"]), (b"deflate", bodies["deflate"]), (b"deflate", raw_deflate)]
    ]

    for answer in answers:
        assert answer.status_code == 200
        assert answer.json == {"id": "8a25ff1d98", "status": "subscribed", "merge_fields": {"FNAME": "Élise"}}


async def test_a_body_that_is_not_what_its_encoding_says_keeps_its_status() -> None:
    answer = await posted_to_raw_receiver(
        answering(b"HTTP/1.1 503 Busy\r\nContent-Type: application/json\r\nContent-Encoding: gzip", b"not gzip")
    )

    assert answer.status_code == 503
    assert answer.json is None
