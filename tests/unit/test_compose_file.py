"""docker-compose.yml, the Prometheus and Grafana configs and .env.example agree with the services' settings.

No Docker engine is needed: the files are read as data and every expectation is derived from the code (the
settings classes, their defaults, the services package), so a change on either side that breaks the stack fails here.
"""

import importlib
import importlib.util
import json
import pkgutil
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient

import services
from shared.settings import ServiceSettings

REPO_ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = REPO_ROOT / "docker-compose.yml"
ENV_EXAMPLE = REPO_ROOT / ".env.example"
PROMETHEUS_CONFIG = REPO_ROOT / "infra" / "prometheus" / "prometheus.yml"
PROMETHEUS_RULES = REPO_ROOT / "infra" / "prometheus" / "rules"
GRAFANA_PROVISIONING = REPO_ROOT / "infra" / "grafana" / "provisioning"
GRAFANA_DASHBOARDS = REPO_ROOT / "infra" / "grafana" / "dashboards"

ENV_PREFIX = ServiceSettings.model_config["env_prefix"]
INFRASTRUCTURE = ("kafka", "mongo", "topics", "prometheus", "grafana")
LOOPBACK = "127.0.0.1"


def _services_with_settings() -> dict[str, type[ServiceSettings]]:
    """Every package under services/ that starts with `python -m`, with the one settings class it defines."""
    found: dict[str, type[ServiceSettings]] = {}
    for package in pkgutil.iter_modules(services.__path__):
        if not package.ispkg or importlib.util.find_spec(f"services.{package.name}.__main__") is None:
            continue
        module = importlib.import_module(f"services.{package.name}.settings")
        classes = [
            value
            for value in vars(module).values()
            if isinstance(value, type) and issubclass(value, ServiceSettings) and value is not ServiceSettings
        ]
        assert len(classes) == 1, f"services/{package.name}/settings.py should define one settings class"
        found[package.name] = classes[0]
    return found


SETTINGS = _services_with_settings()
SERVICE_NAMES = sorted(SETTINGS)


def _env_name(field: str) -> str:
    return f"{ENV_PREFIX}{field.upper()}"


def _env_names(settings_class: type[ServiceSettings]) -> set[str]:
    return {_env_name(field) for field in settings_class.model_fields}


def _default_port(name: str) -> int:
    port = SETTINGS[name].model_fields["http_port"].default
    assert isinstance(port, int)
    return port


def _load_yaml(path: Path) -> dict[str, Any]:
    loaded = yaml.safe_load(path.read_text())
    assert isinstance(loaded, dict), f"{path} should hold a YAML mapping"
    return loaded


@dataclass(frozen=True)
class PublishedPort:
    host_ip: str
    published: int
    target: int


def _published_ports(service: dict[str, Any]) -> list[PublishedPort]:
    ports: list[PublishedPort] = []
    for entry in service.get("ports", []):
        if isinstance(entry, dict):
            ports.append(
                PublishedPort(str(entry.get("host_ip", "")), int(entry.get("published", 0)), int(entry["target"]))
            )
            continue
        parts = str(entry).split("/")[0].rsplit(":", 2)
        if len(parts) == 1:  # "8001": a random host port on every interface
            ports.append(PublishedPort("", 0, int(parts[0])))
        elif len(parts) == 2:  # "8001:8001": every interface
            ports.append(PublishedPort("", int(parts[0]), int(parts[1])))
        else:
            ports.append(PublishedPort(parts[0], int(parts[1]), int(parts[2])))
    return ports


def _environment(service: dict[str, Any]) -> dict[str, str | None]:
    """The service's environment as name -> value; None where compose passes the variable through."""
    environment = service.get("environment", {})
    if isinstance(environment, list):
        pairs = [str(item).partition("=") for item in environment]
        return {name: (value if separator else None) for name, separator, value in pairs}
    return {str(name): (None if value is None else str(value)) for name, value in environment.items()}


def _bind_mounts(service: dict[str, Any]) -> dict[str, Path]:
    """Bind mounts as container path -> host path; named volumes are left out."""
    mounts: dict[str, Path] = {}
    for volume in service.get("volumes", []):
        source, target = str(volume).split(":")[:2]
        if source.startswith((".", "/")):
            mounts[target] = (REPO_ROOT / source).resolve()
    return mounts


def _healthcheck_command(service: dict[str, Any]) -> str:
    test = service["healthcheck"]["test"]
    return test if isinstance(test, str) else " ".join(str(part) for part in test)


@pytest.fixture(scope="module")
def compose_services() -> dict[str, dict[str, Any]]:
    services_block = _load_yaml(COMPOSE_FILE)["services"]
    assert isinstance(services_block, dict)
    return services_block


@pytest.fixture(scope="module")
def prometheus_config() -> dict[str, Any]:
    return _load_yaml(PROMETHEUS_CONFIG)


@pytest.fixture(scope="module")
def grafana_datasources() -> list[dict[str, Any]]:
    datasources: list[dict[str, Any]] = []
    for path in sorted((GRAFANA_PROVISIONING / "datasources").glob("*.y*ml")):
        datasources.extend(_load_yaml(path).get("datasources", []))
    return datasources


def test_the_services_package_holds_the_four_services_the_stack_runs() -> None:
    assert {"ingest", "identity", "profile", "notify"} <= set(SETTINGS)


def test_the_stack_defines_the_infrastructure_and_every_parterre_service(
    compose_services: dict[str, dict[str, Any]],
) -> None:
    missing = {*INFRASTRUCTURE, *SERVICE_NAMES} - set(compose_services)
    assert not missing, f"docker-compose.yml lacks the services {sorted(missing)}"


def test_kafka_is_the_official_4_1_image_advertising_the_bootstrap_the_services_use(
    compose_services: dict[str, dict[str, Any]],
) -> None:
    kafka = compose_services["kafka"]
    assert re.fullmatch(r"apache/kafka:4\.1\.\d+", kafka["image"])
    advertised = str(_environment(kafka)["KAFKA_ADVERTISED_LISTENERS"]).split(",")
    advertised_addresses = {listener.split("://", 1)[1] for listener in advertised}
    bootstraps = {
        _environment(compose_services[name])["PARTERRE_KAFKA_BOOTSTRAP"] for name in (*SERVICE_NAMES, "topics")
    }
    assert bootstraps <= advertised_addresses
    for port in _published_ports(kafka):
        assert f"{LOOPBACK}:{port.published}" in advertised_addresses, "a published listener must be advertised"


def test_kafka_answers_offset_commits_without_holding_them(compose_services: dict[str, dict[str, Any]]) -> None:
    # As the local stack's broker does (infra/local/stack.py): the group coordinator's default holds each commit 5 ms.
    assert _environment(compose_services["kafka"])["KAFKA_GROUP_COORDINATOR_APPEND_LINGER_MS"] == "0"


def test_mongo_is_mongo_7_started_as_the_replica_set_the_services_connect_to(
    compose_services: dict[str, dict[str, Any]],
) -> None:
    mongo = compose_services["mongo"]
    assert mongo["image"] == "mongo:7"
    command = [str(part) for part in mongo["command"]]
    assert "--replSet" in command
    replica_set = command[command.index("--replSet") + 1]
    assert f"_id: '{replica_set}'" in _healthcheck_command(mongo), "the healthcheck must initiate that replica set"
    for name in SERVICE_NAMES:
        url = urlsplit(str(_environment(compose_services[name])["PARTERRE_MONGO_URL"]))
        assert url.hostname == "mongo"
        assert parse_qs(url.query)["replicaSet"] == [replica_set]


def test_the_topics_job_creates_the_catalog_once_kafka_is_healthy(
    compose_services: dict[str, dict[str, Any]],
) -> None:
    topics = compose_services["topics"]
    assert topics["command"] == ["parterre", "topics", "create"]
    assert topics["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert set(_environment(topics)) <= _env_names(ServiceSettings)


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_every_parterre_variable_a_service_gets_is_a_field_of_its_settings_class(
    compose_services: dict[str, dict[str, Any]], name: str
) -> None:
    given = {variable for variable in _environment(compose_services[name]) if variable.startswith(ENV_PREFIX)}
    unknown = given - _env_names(SETTINGS[name])
    assert not unknown, f"{name} is given variables its settings class ignores: {sorted(unknown)}"


def test_identity_is_given_the_suppression_salt_set_in_env(compose_services: dict[str, dict[str, Any]]) -> None:
    # Compose reads .env to fill in values, not to give them to a container: passed through by name, or identity
    # would hash erased persons under the development salt.
    environment = _environment(compose_services["identity"])
    assert "PARTERRE_IDENTITY_SUPPRESSION_SALT" in environment
    assert environment["PARTERRE_IDENTITY_SUPPRESSION_SALT"] is None


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_a_service_listens_and_is_published_on_its_settings_default_port(
    compose_services: dict[str, dict[str, Any]], name: str
) -> None:
    service = compose_services[name]
    port = _default_port(name)
    assert _environment(service)["PARTERRE_HTTP_PORT"] == str(port)
    assert _environment(service)["PARTERRE_HTTP_HOST"] == "0.0.0.0"  # reachable from the other containers
    assert [(p.published, p.target) for p in _published_ports(service)] == [(port, port)]


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_a_service_runs_its_own_module_and_reports_healthy_only_when_ready(
    compose_services: dict[str, dict[str, Any]], name: str
) -> None:
    service = compose_services[name]
    assert service["command"] == ["python", "-m", f"services.{name}"]
    assert importlib.util.find_spec(f"services.{name}.__main__") is not None
    readyz = re.findall(r"https?://(?:127\.0\.0\.1|localhost):(\d+)/readyz\b", _healthcheck_command(service))
    assert readyz == [str(_default_port(name))]


@pytest.mark.parametrize("name", SERVICE_NAMES)
def test_a_service_starts_after_kafka_and_mongo_are_healthy_and_the_topics_exist(
    compose_services: dict[str, dict[str, Any]], name: str
) -> None:
    conditions = {dependency: rule["condition"] for dependency, rule in compose_services[name]["depends_on"].items()}
    assert conditions == {
        "kafka": "service_healthy",
        "mongo": "service_healthy",
        "topics": "service_completed_successfully",
    }
    assert "healthcheck" in compose_services["kafka"]
    assert "healthcheck" in compose_services["mongo"]
    assert compose_services[name]["restart"] == "unless-stopped"


def test_every_published_port_binds_the_loopback_interface_only(
    compose_services: dict[str, dict[str, Any]],
) -> None:
    exposed = {
        f"{name}: {port}"
        for name, service in compose_services.items()
        for port in _published_ports(service)
        if port.host_ip != LOOPBACK
    }
    assert not exposed, f"published beyond {LOOPBACK}: {sorted(exposed)}"


def test_every_bind_mount_and_build_file_exists_in_the_repository(
    compose_services: dict[str, dict[str, Any]],
) -> None:
    for name, service in compose_services.items():
        for target, source in _bind_mounts(service).items():
            assert source.exists(), f"{name} mounts {source} at {target}, which does not exist"
        if "build" in service:
            assert (REPO_ROOT / service["build"]["context"] / service["build"]["dockerfile"]).is_file()


def test_prometheus_scrapes_exactly_the_services_metrics_on_their_settings_ports(
    compose_services: dict[str, dict[str, Any]], prometheus_config: dict[str, Any]
) -> None:
    default_interval = prometheus_config.get("global", {}).get("scrape_interval", "1m")
    scraped = {
        job["job_name"]: {
            "targets": [target for group in job["static_configs"] for target in group["targets"]],
            "services": [group.get("labels", {}).get("service") for group in job["static_configs"]],
            "path": job.get("metrics_path", "/metrics"),
            "interval": job.get("scrape_interval", default_interval),
        }
        for job in prometheus_config["scrape_configs"]
    }
    expected = {
        f"parterre-{name}": {
            "targets": [f"{name}:{_default_port(name)}"],
            "services": [name],
            "path": "/metrics",
            "interval": "15s",
        }
        for name in SERVICE_NAMES
    }
    assert scraped == expected


def test_prometheus_reads_its_config_and_rules_from_the_mounted_repository_files(
    compose_services: dict[str, dict[str, Any]], prometheus_config: dict[str, Any]
) -> None:
    mounts = _bind_mounts(compose_services["prometheus"])
    assert mounts["/etc/prometheus/prometheus.yml"] == PROMETHEUS_CONFIG
    rule_directories = {str(PurePosixPath(pattern).parent) for pattern in prometheus_config["rule_files"]}
    assert rule_directories == {"/etc/prometheus/rules"}
    assert mounts["/etc/prometheus/rules"] == PROMETHEUS_RULES


def test_the_grafana_datasource_points_at_the_prometheus_service(
    compose_services: dict[str, dict[str, Any]], grafana_datasources: list[dict[str, Any]]
) -> None:
    assert _bind_mounts(compose_services["grafana"])["/etc/grafana/provisioning"] == GRAFANA_PROVISIONING
    prometheus_sources = [source for source in grafana_datasources if source["type"] == "prometheus"]
    assert len(prometheus_sources) == 1
    url = urlsplit(prometheus_sources[0]["url"])
    assert url.hostname == "prometheus"
    assert url.port in {port.target for port in _published_ports(compose_services["prometheus"])}


def test_grafana_keeps_anonymous_access_off_and_takes_its_password_from_the_environment(
    compose_services: dict[str, dict[str, Any]],
) -> None:
    environment = _environment(compose_services["grafana"])
    assert environment["GF_AUTH_ANONYMOUS_ENABLED"] == "false"
    password = str(environment["GF_SECURITY_ADMIN_PASSWORD"])
    assert re.fullmatch(r"\$\{GF_SECURITY_ADMIN_PASSWORD:\?[^}]*\}", password), "no default outside .env.example"


def test_grafana_loads_the_repository_dashboards_which_query_the_provisioned_datasource(
    compose_services: dict[str, dict[str, Any]], grafana_datasources: list[dict[str, Any]]
) -> None:
    providers = [
        provider
        for path in sorted((GRAFANA_PROVISIONING / "dashboards").glob("*.y*ml"))
        for provider in _load_yaml(path)["providers"]
    ]
    mounts = _bind_mounts(compose_services["grafana"])
    assert [mounts[provider["options"]["path"]] for provider in providers] == [GRAFANA_DASHBOARDS]
    datasource_uids = {source["uid"] for source in grafana_datasources}
    dashboards = sorted(GRAFANA_DASHBOARDS.glob("*.json"))
    assert dashboards
    for path in dashboards:
        for panel in json.loads(path.read_text())["panels"]:
            used = {panel["datasource"]["uid"], *(target["datasource"]["uid"] for target in panel["targets"])}
            assert used <= datasource_uids, f"{path.name}: panel {panel['title']!r} uses an unknown datasource"


async def _exposed_metric_families(app: FastAPI) -> dict[str, str]:
    """Metric family name -> type, as the service's /metrics lists them; the lifespan is not run, so no I/O."""
    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://service") as client:
        exposition = (await client.get("/metrics")).raise_for_status().text
    return dict(re.findall(r"^# TYPE (\S+) (\S+)$", exposition, flags=re.MULTILINE))


async def test_every_parterre_metric_a_dashboard_queries_is_exposed_by_the_services() -> None:
    families: dict[str, str] = {}
    for name in SERVICE_NAMES:
        bootstrap = importlib.import_module(f"services.{name}.bootstrap")
        families.update(await _exposed_metric_families(bootstrap.create_app(SETTINGS[name]())))
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "summary": ("_sum", "_count")}
    exposed = {family + suffix for family, kind in families.items() for suffix in ("", *suffixes.get(kind, ()))}
    for path in sorted(GRAFANA_DASHBOARDS.glob("*.json")):
        queried = set(re.findall(r"\bparterre_[a-z0-9_]+", path.read_text()))
        assert queried, f"{path.name} queries no Parterre metric"
        assert queried <= exposed, f"{path.name} queries metrics no service exposes: {sorted(queried - exposed)}"


def _env_example_assignments() -> tuple[dict[str, str], set[str]]:
    """Active `NAME=value` lines, and names only shown commented out as `# NAME=value`."""
    active: dict[str, str] = {}
    commented: set[str] = set()
    for line in ENV_EXAMPLE.read_text().splitlines():
        if match := re.fullmatch(r"([A-Z][A-Z0-9_]*)=(.*)", line):
            active[match[1]] = match[2]
        elif match := re.fullmatch(r"#\s*([A-Z][A-Z0-9_]*)=.*", line):
            commented.add(match[1])
    return active, commented


def test_env_example_names_every_setting_and_nothing_but_the_compose_variables() -> None:
    active, commented = _env_example_assignments()
    settings_names = set().union(*(_env_names(settings_class) for settings_class in SETTINGS.values()))
    interpolated = set(re.findall(r"(?<!\$)\$\{([A-Z][A-Z0-9_]*)", COMPOSE_FILE.read_text()))
    parterre_names = {name for name in (*active, *commented) if name.startswith(ENV_PREFIX)}
    other_names = {name for name in (*active, *commented) if not name.startswith(ENV_PREFIX)}
    assert parterre_names == settings_names
    assert other_names == interpolated, "beyond the settings, .env.example lists exactly what compose interpolates"


def test_env_example_shows_each_settings_default_and_leaves_per_service_defaults_unset() -> None:
    active, commented = _env_example_assignments()
    fields = set().union(*(settings_class.model_fields for settings_class in SETTINGS.values()))
    for field in sorted(fields):
        defaults = {
            str(settings_class.model_fields[field].default)
            for settings_class in SETTINGS.values()
            if field in settings_class.model_fields
        }
        name = _env_name(field)
        if len(defaults) == 1:
            assert active.get(name) in defaults, f"{name} should be set to its default {defaults}"
        else:  # one value would move every service to the same port: show it commented out instead
            assert name in commented, f"{name} differs per service and should be commented out"
            assert name not in active
