"""Every metric the dashboard and the alert rules query is one a service exports: a renamed metric would leave a
panel silently empty and an alert that never fires."""

import json
import re
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from services.identity.bootstrap import create_app as identity_app
from services.ingest.bootstrap import create_app as ingest_app
from services.notify.bootstrap import create_app as notify_app
from services.profile.bootstrap import create_app as profile_app

INFRA = Path(__file__).resolve().parents[2] / "infra"
METRIC = re.compile(r"\bparterre_[a-z_]+\b")
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",), "summary": ("",)}


def _exported() -> set[str]:
    names: set[str] = set()
    for build in (ingest_app, identity_app, profile_app, notify_app):
        registry: CollectorRegistry = build().state.runtime.registry
        for family in registry.collect():
            names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ("",)))
    return names


def _queried(text: str) -> set[str]:
    return set(METRIC.findall(text))


@pytest.mark.parametrize(
    "source",
    [*sorted((INFRA / "grafana" / "dashboards").glob("*.json")), INFRA / "prometheus" / "rules" / "parterre.yml"],
    ids=lambda path: path.name,
)
def test_every_metric_queried_is_exported(source: Path) -> None:
    text = source.read_text()
    if source.suffix == ".json":
        text = " ".join(target["expr"] for panel in json.loads(text)["panels"] for target in panel.get("targets", []))
    queried = _queried(text)

    assert queried, f"{source.name} queries no Parterre metric"
    assert queried - _exported() == set()
