"""The HTTP request metrics stay bounded whatever a caller sends: no label takes a value the caller invents."""

from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from shared.service import Runtime, ServiceParts, create_service_app
from shared.settings import ServiceSettings


def _methods_counted(registry: CollectorRegistry) -> set[str]:
    return {
        sample.labels["method"]
        for metric in registry.collect()
        if metric.name == "parterre_http_requests"
        for sample in metric.samples
    }


def test_invented_http_methods_do_not_each_open_a_new_time_series() -> None:
    app = create_service_app(ServiceSettings(), ServiceParts(title="t", description="d"))
    runtime: Runtime = app.state.runtime
    client = TestClient(app)  # no lifespan: /healthz and an unknown method need neither Kafka nor the store

    for number in range(50):
        client.request(f"METHOD{number}", "/healthz")
    client.get("/healthz")

    methods = _methods_counted(runtime.registry)
    assert "GET" in methods
    assert len(methods) <= 10, sorted(methods)
