"""Real servers for the tests: Kafka and a MongoDB-compatible store, never in-memory stand-ins.

Where they come from, in order: `KAFKA_BOOTSTRAP` / `MONGO_URL` from the environment; testcontainers where
a Docker engine answers; otherwise the local stack of `infra/local` (Kafka from its Maven jars, FerretDB
built from its Go module), started here and stopped at the end if this session started it. Under
`CI=true` a server that cannot be had fails the run; elsewhere the tests that need it are skipped.
"""

import asyncio
import functools
import inspect
import os
import time
from collections.abc import Awaitable, Callable, Generator, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import pytest
import pytest_timeout
from hypothesis import settings

REPO_ROOT = Path(__file__).resolve().parent.parent
# SIGTERM (a CI job cancelled, `kill`) stops the session as Ctrl-C does: the servers it started are stopped.
pytest_plugins = ("tests.terminate_as_interrupt",)

# No deadline for a generated case: `make test` runs the tests that need no server beside those waiting on servers,
# on two cores, where one case can take four times another for no reason of its own. Speed is `make bench`'s.
settings.register_profile("parterre", deadline=None)
settings.load_profile("parterre")


@dataclass(frozen=True)
class Servers:
    kafka_bootstrap: str
    mongo_url: str
    origin: str


def _docker_engine_answers() -> bool:
    try:
        import docker  # testcontainers' own dependency

        docker.from_env(timeout=3).ping()
    except Exception:
        return False
    return True


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI needs real Kafka and MongoDB-compatible servers: {reason}", pytrace=False)
    pytest.skip(f"no real Kafka/MongoDB-compatible servers here: {reason}")


@pytest.fixture(scope="session")
def servers() -> Iterator[Servers]:
    kafka_from_env = os.environ.get("KAFKA_BOOTSTRAP")
    mongo_from_env = os.environ.get("MONGO_URL")
    if kafka_from_env and mongo_from_env:
        yield Servers(kafka_from_env, mongo_from_env, "environment")
        return
    with ExitStack() as cleanup:
        if _docker_engine_answers():
            from testcontainers.community.kafka import KafkaContainer
            from testcontainers.community.mongodb import MongoDbContainer

            kafka = cleanup.enter_context(KafkaContainer().with_kraft())
            mongo = cleanup.enter_context(MongoDbContainer("mongo:7"))
            found = Servers(kafka.get_bootstrap_server(), mongo.get_connection_url(), "testcontainers")
        else:
            from infra.local.stack import LocalStack, StackConfig

            stack = LocalStack(StackConfig.for_tests())
            try:
                endpoints = stack.up()
            except Exception as exc:
                _unavailable(str(exc))
            if endpoints.started:
                cleanup.callback(stack.down)
            found = Servers(endpoints.kafka_bootstrap, endpoints.mongo_url, "local stack")
        yield Servers(kafka_from_env or found.kafka_bootstrap, mongo_from_env or found.mongo_url, found.origin)


@pytest.fixture(autouse=True)
def _an_english_locale(monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands speak the language of the locale (`LANG=fr_CA.UTF-8`): the tests read their English under any
    developer's locale, and set a French one where they read the French."""
    for name in ("LC_ALL", "LC_MESSAGES", "LANGUAGE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")


@pytest.fixture
def french_locale(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Quebec French locale, which the commands speak French under."""
    monkeypatch.setenv("LANG", "fr_CA.UTF-8")


# A hung asynchronous test is cut shortly before pytest-timeout's own limit. pytest-timeout alone shows only the
# threads' stacks, where the event loop sits in `select`; cancelling the test instead ends it with the chain of awaits
# it was stuck in, and leaves its clean-up the time to run: a minute, or a quarter of a shorter limit.
HANG_MARGIN_SECONDS = 60
P = ParamSpec("P")
R = TypeVar("R")
_PROTOCOL_STARTED = pytest.StashKey[float]()


def bounded(test: Callable[P, Awaitable[R]], limit_seconds: float) -> Callable[P, Awaitable[R]]:
    """`test` cancelled after `limit_seconds`, failing with a TimeoutError that chains the awaits it was stuck in."""

    @functools.wraps(test)
    async def run(*args: P.args, **kwargs: P.kwargs) -> R:
        async with asyncio.timeout(limit_seconds):
            return await test(*args, **kwargs)

    return run


def _time_left(item: pytest.Item) -> float | None:
    """Seconds the test body may take before it is cut; None when pytest-timeout sets no limit or a debugger runs."""
    settings = pytest_timeout._get_item_settings(item)  # the limit as pytest-timeout reads it: marker, option, ini
    if not settings.timeout or settings.timeout <= 0:
        return None
    if not settings.disable_debugger_detection and pytest_timeout.is_debugging():
        return None
    # Unless its limit is on the call alone, pytest-timeout counts from the start of the test's set-up.
    spent = 0.0 if settings.func_only else time.monotonic() - item.stash.get(_PROTOCOL_STARTED, time.monotonic())
    limit = float(settings.timeout)
    return limit - spent - min(HANG_MARGIN_SECONDS, limit / 4)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_protocol(item: pytest.Item) -> Generator[None, Any, Any]:
    item.stash[_PROTOCOL_STARTED] = time.monotonic()
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, Any, Any]:
    if not (isinstance(item, pytest.Function) and inspect.iscoroutinefunction(item.obj)):
        return (yield)
    limit = _time_left(item)
    if limit is None or limit <= 0:
        return (yield)
    original = item.obj
    item.obj = bounded(original, limit)
    try:
        return (yield)
    finally:
        item.obj = original
