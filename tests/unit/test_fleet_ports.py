"""`make up` refuses, before starting anything, a service port another program holds, naming it."""

import socket
from pathlib import Path

import pytest

from infra.platform.fleet import SERVICES, Fleet, FleetError, free_ports


def test_a_port_held_by_another_program_is_named_and_nothing_is_started(tmp_path: Path) -> None:
    ports = dict(zip(SERVICES, free_ports(len(SERVICES)), strict=True))
    fleet = Fleet(tmp_path, "127.0.0.1:1", "mongodb://127.0.0.1:1/", ports=tuple(ports.items()))
    with socket.socket() as other_program:
        other_program.bind(("127.0.0.1", ports["profile"]))
        other_program.listen()

        with pytest.raises(FleetError) as refused:
            fleet.up(progress=lambda _message: None)

    assert f"profile's port {ports['profile']} is already in use" in str(refused.value)
    assert "nothing was started" in str(refused.value)
    assert not list((tmp_path / "run").glob("*.pid"))
