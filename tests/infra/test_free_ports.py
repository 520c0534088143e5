"""Ports for services started together on demand."""

from infra.platform.fleet import free_ports


def test_ports_asked_for_together_are_all_different() -> None:
    for _ in range(20):
        ports = free_ports(64)
        assert len(set(ports)) == len(ports) == 64
