"""Real HTTP receivers for the notify tests: uvicorn servers on loopback that answer as each test scripts them."""

import asyncio
import base64
import json
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import uvicorn

from services.notify.domain.mailchimp import subscriber_hash

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay: float = 0.0


class Receiver:
    """Answers each request with the next scripted reply, then with `default`; records every request."""

    def __init__(self, script: list[Reply] | None = None, default: Reply | None = None) -> None:
        self.script = list(script or [])
        self.default = default or Reply()
        self.received: list[Received] = []
        self.url = ""

    def answer(self, request: Received) -> Reply:
        return self.script.pop(0) if self.script else self.default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {name.decode().lower(): value.decode() for name, value in scope["headers"]}
        request = Received(scope["method"], scope["path"], headers, body, time.monotonic())
        self.received.append(request)
        reply = self.answer(request)
        if reply.delay:
            await asyncio.sleep(reply.delay)
        await send(
            {
                "type": "http.response.start",
                "status": reply.status,
                "headers": [(name.encode(), value.encode()) for name, value in reply.headers.items()],
            }
        )
        await send({"type": "http.response.body", "body": reply.body})


@asynccontextmanager
async def serving(app: Receiver) -> AsyncIterator[Receiver]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:  # noqa: ASYNC110 - uvicorn offers no event for "listening"
        await asyncio.sleep(0.01)
    app.url = f"http://127.0.0.1:{port}"
    try:
        yield app
    finally:
        server.should_exit = True
        server.force_exit = True
        await asyncio.wait_for(task, timeout=5)
        sock.close()


class FakeMailchimp(Receiver):
    """The Marketing API endpoints the audience sync uses, as Mailchimp documents them, over a dict of members.

    `PUT /3.0/lists/{list}/members/{hash}` creates a member with `status_if_new` or updates one, never changing an
    existing member's status unless `status` is given; `PATCH` updates an existing member (404 otherwise), moving it
    to the hash of a new `email_address` unless that address is a member already (400 `Member Exists`); `GET` reads
    one; `DELETE` archives one; `POST …/members/{hash}/actions/delete-permanent` deletes one for good;
    `POST …/members/{hash}/tags` sets tags active or inactive and answers 204. Basic auth
    with the key is required.
    """

    def __init__(self, api_key: str, list_id: str) -> None:
        super().__init__()
        self.api_key = api_key
        self.list_id = list_id
        self.members: dict[str, dict[str, Any]] = {}

    def answer(self, request: Received) -> Reply:
        expected = "Basic " + base64.b64encode(f"parterre:{self.api_key}".encode()).decode()
        if request.headers.get("authorization") != expected:
            return Reply(401, {"content-type": "application/problem+json"}, b'{"title":"API Key Invalid"}')
        prefix = f"/3.0/lists/{self.list_id}/members/"
        if not request.path.startswith(prefix):
            return Reply(404)
        rest = request.path.removeprefix(prefix).split("/")
        member_hash = rest[0]
        member = self.members.get(member_hash)
        if rest[1:] == ["actions", "delete-permanent"] and request.method == "POST":
            # Deleted for good, as Mailchimp does for a GDPR erasure: gone from the audience, history and all.
            return Reply(404 if self.members.pop(member_hash, None) is None else 204)
        if len(rest) == 2 and rest[1] == "tags" and request.method == "POST":
            if member is None:
                return Reply(404)
            for tag in request.json()["tags"]:
                member.setdefault("tags", {})[tag["name"]] = tag["status"]
            return Reply(204)
        if request.method == "GET":
            if member is None:
                return Reply(404)
            shown = {"id": member_hash, **{key: value for key, value in member.items() if key != "tags"}}
            return Reply(200, {"content-type": "application/json"}, json.dumps(shown).encode())
        if request.method == "DELETE":
            # Archived: kept with its history, answered 204; a later `PUT` leaves it archived.
            if member is None:
                return Reply(404)
            member["status"] = "archived"
            return Reply(204)
        body = request.json()
        if request.method == "PUT":
            if member is None:
                member = {"email_address": body["email_address"], "status": body.get("status", body["status_if_new"])}
                self.members[member_hash] = member
            elif "status" in body:
                member["status"] = body["status"]
            member["merge_fields"] = body.get("merge_fields", {})
            member["language"] = body.get("language")
        elif request.method == "PATCH":
            if member is None:
                return Reply(404)
            moved_to = subscriber_hash(body.get("email_address", member["email_address"]))
            if moved_to != member_hash and moved_to in self.members:
                problem = {"title": "Member Exists", "status": 400}
                return Reply(400, {"content-type": "application/problem+json"}, json.dumps(problem).encode())
            member.update(body)
            self.members[moved_to] = self.members.pop(member_hash)
            member_hash = moved_to
        else:
            return Reply(405)
        answer = {"id": member_hash, **{key: value for key, value in member.items() if key != "tags"}}
        return Reply(200, {"content-type": "application/json"}, json.dumps(answer).encode())
