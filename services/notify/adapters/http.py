"""Outbound HTTP with its safety checks: HTTPS only, no redirects, and no address inside the network unless allowed."""

import asyncio
import json
import logging
import socket
import ssl
import time
import zlib
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import httpcore
import httpx

from services.notify.domain.targets import OutboundPolicy, addresses_problem, url_problem
from services.notify.ports import HttpAnswer

USER_AGENT = "Parterre-Notify/1 (+https://github.com/parterre)"
# Of an answer's body, only this much is read: what is kept of it is a Mailchimp member (a few kilobytes) or the start
# of an error text. A receiver answering with an endless body must neither fill the memory nor hold the attempt.
MAX_ANSWER_BYTES = 1 << 20

log = logging.getLogger(__name__)

# Answers the addresses a host name stands for, as getaddrinfo would.
Resolve = Callable[[str, int], Awaitable[list[str]]]


class TargetRefusedError(Exception):
    """Outbound safety refused every address of a target: nothing was sent."""


async def resolve_with_getaddrinfo(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class PinnedNetworkBackend(httpcore.AsyncNetworkBackend):
    """Opens each connection to an address it has just checked: the name is resolved once, here, and never again.

    Checking one resolution and connecting after another would let a hostile DNS server answer a public address
    to the check and a private one to the connection (DNS rebinding). The HTTP layer above still speaks to the
    name, so the `Host` header, the TLS server name (SNI) and certificate checks all use it, and pooled
    connections are keyed by it.
    """

    def __init__(self, policy: OutboundPolicy, resolve: Resolve, inner: httpcore.AsyncNetworkBackend) -> None:
        self._policy = policy
        self._resolve = resolve
        self._inner = inner

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await self._resolve(host, port)
        except OSError as exc:
            raise httpcore.ConnectError(f"the host {host} does not resolve: {exc}") from exc
        if (problem := addresses_problem(addresses, self._policy)) is not None:
            raise TargetRefusedError(problem.en)
        failure: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        assert failure is not None  # addresses_problem refuses an empty list
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise TargetRefusedError("a Unix socket is not a target")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class SafeOutbound:
    """Sends to targets outbound safety allows, with a hard timeout; `PinnedNetworkBackend` checks the addresses."""

    def __init__(
        self,
        policy: OutboundPolicy,
        *,
        timeout_seconds: float,
        resolve: Resolve = resolve_with_getaddrinfo,
        trusted: ssl.SSLContext | None = None,
    ) -> None:
        self._policy = policy
        self._timeout = timeout_seconds
        self._resolve = resolve
        # The certificate authorities receivers are checked against; None: the public ones (certifi).
        self._trusted = trusted
        self._client: httpx.AsyncClient | None = None

    async def start(self) -> None:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
        transport = httpx.AsyncHTTPTransport(
            verify=True if self._trusted is None else self._trusted, limits=limits, trust_env=False
        )
        # httpx takes no network backend of its own, so the pool it built gets ours before its first connection.
        pool = transport._pool
        pool._network_backend = PinnedNetworkBackend(self._policy, self._resolve, pool._network_backend)
        self._client = httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(self._timeout),
            follow_redirects=False,
            # Bodies uncompressed: a compressed one inflates far beyond what is read of it (see `_read_at_most`).
            headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"},
            trust_env=False,
        )

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def request(
        self,
        method: str,
        url: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
    ) -> HttpAnswer:
        if self._client is None:
            raise RuntimeError("the outbound client is not started")
        if (problem := url_problem(url, self._policy)) is not None:
            return HttpAnswer(status_code=None, error=f"refused: {problem.en}", refused=problem.en)
        started = time.perf_counter()
        response: httpx.Response | None = None
        kept = bytearray()
        try:
            # httpx's timeout bounds each read, connect and write alone: a receiver dripping its answer byte by byte
            # would hold the attempt, and one of its subscription's slots, far longer. This bounds the whole attempt.
            async with (
                asyncio.timeout(self._timeout),
                self._client.stream(method, url, content=body, headers=dict(headers or {}), auth=auth) as response,
            ):
                await _read_at_most(response, MAX_ANSWER_BYTES, kept)
        except TargetRefusedError as exc:
            return HttpAnswer(status_code=None, error=f"refused: {exc}", refused=str(exc))
        except (httpx.TimeoutException, TimeoutError, httpx.HTTPError) as exc:
            if response is None:
                error = (
                    f"no answer within {self._timeout:g} s"
                    if isinstance(exc, httpx.TimeoutException | TimeoutError)
                    else f"{type(exc).__name__}: {exc}"[:500]
                )
                return HttpAnswer(None, error=error, duration_seconds=_since(started))
            # The status came, and only the body was late or cut: the receiver had the message and said so. Sent
            # again, a 2xx's message would reach it twice (a receiver answering first and working after is common).
            log.info(
                "an answer's body did not come whole (%s); its status %d stands",
                type(exc).__name__,
                response.status_code,
            )
        except httpx.InvalidURL as exc:
            return HttpAnswer(None, error=f"{type(exc).__name__}: {exc}"[:500], duration_seconds=_since(started))
        except Exception as exc:
            # Not a network failure, yet a failed attempt all the same: raised, it would be counted as no attempt at
            # all, and the delivery tried again and again with neither the retry schedule nor an end.
            log.exception("sending to a target raised")
            return HttpAnswer(None, error=f"{type(exc).__name__}: {exc}"[:500], duration_seconds=_since(started))
        assert response is not None, "an answer is read only once its status came"
        content = bytes(kept)
        return HttpAnswer(
            status_code=response.status_code,
            error=None if response.is_success else _text_of(response, content)[:500] or response.reason_phrase,
            retry_after=response.headers.get("retry-after"),
            json=_json_of(response, content),
            duration_seconds=_since(started),
            headers=dict(response.headers),
        )


async def _read_at_most(response: httpx.Response, limit: int, kept: bytearray) -> None:
    """The body's first `limit` bytes, decoded, into `kept` as they come (what came is kept should the rest be late);
    the rest is never read (the connection is closed rather than reused).

    Read as it came and inflated here no further than `limit`: httpx's decoding inflates each piece the network gives
    in full, and 64 KB of gzip (64 MB of zeros) sent anyway to a client asking for none held 150 MB at its peak to
    keep 1 MB. A body in an encoding not inflated here (`br`, several in a row) is kept as it came."""
    inflate = _inflater(response.headers.get("content-encoding", ""))
    async for chunk in response.aiter_raw():
        kept += chunk[: limit - len(kept)] if inflate is None else inflate(chunk, limit - len(kept))
        if len(kept) >= limit:
            break


def _inflater(content_encoding: str) -> Callable[[bytes, int], bytes] | None:
    """What inflates a gzip or deflate body piece by piece, each piece to at most the bytes asked for; None for a body
    that is not (identity) or that is in an encoding this does not read."""
    encoding = content_encoding.strip().lower()
    if encoding in ("gzip", "x-gzip"):
        return _Inflating(zlib.MAX_WBITS | 16).piece
    if encoding == "deflate":
        # zlib's wrapper, as RFC 9110 names it; some servers send the raw stream, told by its first bytes.
        return _Inflating(None).piece
    return None


class _Inflating:
    def __init__(self, window_bits: int | None) -> None:
        self._window_bits = window_bits
        self._inflater: Any = None if window_bits is None else zlib.decompressobj(window_bits)
        self._broken = False

    def piece(self, data: bytes, at_most: int) -> bytes:
        if self._broken or at_most <= 0:
            return b""
        if self._inflater is None:
            self._inflater = zlib.decompressobj(zlib.MAX_WBITS if data[:1] == b"\x78" else -zlib.MAX_WBITS)
        try:
            # What stays unread past `at_most` waits in `unconsumed_tail`; the caller stops once it has enough.
            return bytes(self._inflater.decompress(data, at_most))
        except zlib.error:
            # Not what its header says: what was inflated is kept, the rest of the body cannot be read.
            self._broken = True
            return b""


def _since(started: float) -> float:
    return time.perf_counter() - started


def _text_of(response: httpx.Response, content: bytes) -> str:
    return content.decode(response.encoding or "utf-8", errors="replace")


def _json_of(response: httpx.Response, content: bytes) -> Mapping[str, Any] | None:
    if "json" not in response.headers.get("content-type", ""):
        return None
    try:
        parsed = json.loads(content)
    except (ValueError, RecursionError):
        # Not JSON, or JSON Python will not build: a number of thousands of digits, arrays nested thousands deep.
        return None
    return parsed if isinstance(parsed, dict) else None
