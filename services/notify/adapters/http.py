"""Outbound HTTP with its safety checks: HTTPS only, no redirects, and no address inside the network unless allowed."""

import asyncio
import json
import socket
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx

from services.notify.domain.targets import OutboundPolicy, addresses_problem, url_problem
from services.notify.ports import HttpAnswer

USER_AGENT = "Parterre-Notify/1 (+https://github.com/parterre)"


class SafeOutbound:
    """Resolves each target's host and refuses it if any address is forbidden, then sends with a hard timeout.

    The check and the connection resolve the name separately, so a hostile DNS server could answer differently
    the second time (DNS rebinding); pinning the connection to the checked address would close that gap.
    """

    def __init__(self, policy: OutboundPolicy, *, timeout_seconds: float) -> None:
        self._policy = policy
        self._timeout = timeout_seconds
        self._client: httpx.AsyncClient | None = None

    async def start(self) -> None:
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(self._timeout),
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
            trust_env=False,
        )

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def check(self, url: str) -> str | None:
        """Why `url` may not be sent to now; None if it may."""
        if (problem := url_problem(url, self._policy)) is not None:
            return problem
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            return f"the host {host} does not resolve: {exc}"
        return addresses_problem(sorted({str(info[4][0]) for info in infos}), self._policy)

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
        if (problem := await self.check(url)) is not None:
            return HttpAnswer(status_code=None, error=f"refused: {problem}", refused=problem)
        started = time.perf_counter()
        try:
            response = await self._client.request(method, url, content=body, headers=dict(headers or {}), auth=auth)
        except httpx.TimeoutException:
            return HttpAnswer(None, error=f"no answer within {self._timeout:g} s", duration_seconds=_since(started))
        except httpx.HTTPError as exc:
            return HttpAnswer(None, error=f"{type(exc).__name__}: {exc}"[:500], duration_seconds=_since(started))
        return HttpAnswer(
            status_code=response.status_code,
            error=None if response.is_success else response.text[:500] or response.reason_phrase,
            retry_after=response.headers.get("retry-after"),
            json=_json_of(response),
            duration_seconds=_since(started),
            headers=dict(response.headers),
        )


def _since(started: float) -> float:
    return time.perf_counter() - started


def _json_of(response: httpx.Response) -> Mapping[str, Any] | None:
    if "json" not in response.headers.get("content-type", ""):
        return None
    try:
        parsed = json.loads(response.content)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None
