"""The build stamps of the local stack's artefacts: a stamp vouches only for the artefact built from its sources."""

import fcntl
import threading
from pathlib import Path

import pytest

from infra.local import artefacts
from infra.local.artefacts import Artefacts


class StoppedError(Exception):
    """The build was stopped (Ctrl-C, a killed terminal) after its artefact was swapped in."""


def test_a_rebuild_stopped_before_its_stamp_leaves_no_stamp_vouching_for_the_new_binary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built: list[str] = []
    sources = {"fingerprint": "sources-a"}

    def build(argv: list[str], **_options: object) -> None:
        built.append(sources["fingerprint"])
        Path(argv[argv.index("-o") + 1]).write_text(f"built from {sources['fingerprint']}")

    monkeypatch.setattr(artefacts, "_run_build", build)
    monkeypatch.setattr(artefacts, "_require", lambda tool: tool)
    monkeypatch.setattr(artefacts, "_ferretdb_fingerprint", lambda: sources["fingerprint"])
    local = Artefacts(tmp_path)
    local.ensure_ferretdb(lambda _message: None)

    sources["fingerprint"] = "sources-b"
    write_stamp = artefacts._write_stamp

    def stopped(_home: Path, _fingerprint: str) -> None:
        raise StoppedError

    monkeypatch.setattr(artefacts, "_write_stamp", stopped)
    with pytest.raises(StoppedError):
        local.ensure_ferretdb(lambda _message: None)
    monkeypatch.setattr(artefacts, "_write_stamp", write_stamp)
    # The sources are changed back: the binary on disk was built from the others.
    sources["fingerprint"] = "sources-a"

    assert not local.ferretdb_ready()
    local.ensure_ferretdb(lambda _message: None)
    assert local.ferretdb_binary.read_text() == "built from sources-a"
    assert built == ["sources-a", "sources-b", "sources-a"]


def test_kafka_jars_are_fetched_refusing_any_whose_checksum_does_not_match(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    commands: list[list[str]] = []

    def build(argv: list[str], **_options: object) -> None:
        commands.append(argv)
        staging = Path(next(arg for arg in argv if arg.startswith("-DoutputDirectory=")).partition("=")[2])
        staging.mkdir(parents=True)
        (staging / "kafka_2.13-4.1.1.jar").write_bytes(b"")

    monkeypatch.setattr(artefacts, "_run_build", build)
    monkeypatch.setattr(artefacts, "_require", lambda tool: tool)

    Artefacts(tmp_path).ensure_kafka(lambda _message: None)

    [maven] = commands
    assert maven[0] == "mvn"
    assert "--strict-checksums" in maven


def _fake_maven(argv: list[str], **_options: object) -> None:
    staging = Path(next(arg for arg in argv if arg.startswith("-DoutputDirectory=")).partition("=")[2])
    staging.mkdir(parents=True)
    (staging / "kafka_2.13-4.1.1.jar").write_bytes(b"")


def test_a_build_waiting_for_another_says_so_and_built_artefacts_wait_for_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(artefacts, "_run_build", _fake_maven)
    monkeypatch.setattr(artefacts, "_require", lambda tool: tool)
    local = Artefacts(tmp_path)
    said: list[str] = []
    local.cache_dir.mkdir(parents=True, exist_ok=True)
    with (local.cache_dir / ".build.lock").open("w") as held:
        # Another process building (a first run in another terminal) holds the lock for a while.
        fcntl.flock(held, fcntl.LOCK_EX)
        release = threading.Timer(0.5, fcntl.flock, (held, fcntl.LOCK_UN))
        release.start()
        local.ensure_kafka(said.append)
        release.join()

        waited = [message for message in said if message.startswith("waiting for another process building")]
        assert len(waited) == 1, said
        assert local.kafka_ready()
        # Built already: the lock held again makes no one wait.
        fcntl.flock(held, fcntl.LOCK_EX)
        said.clear()
        assert local.ensure_kafka(said.append) == local.kafka_lib
        assert said == []
