"""docker-compose.yml cannot run here (no Docker engine), so it is checked by reading it:
every service, image, port, health check and FHIR_EVIDENCE_* variable against the code."""

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from api.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SERVICES = {
    "postgres", "kafka", "clickhouse", "keycloak", "api-1", "api-2", "worker", "prometheus",
    "grafana",
}  # fmt: skip


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())  # type: ignore[no-any-return]


def _env(service: dict[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in (service.get("environment") or {}).items()}


def test_every_service_is_there_with_a_pinned_image_and_a_health_check(compose: Any) -> None:
    services = compose["services"]
    assert set(services) == SERVICES
    for name, service in services.items():
        image = service.get("image", "")
        assert image and not image.endswith(":latest") and ":" in image, name
        assert service.get("healthcheck", {}).get("test"), f"{name} has no health check"
    assert services["kafka"]["image"].startswith("apache/kafka:")
    assert services["clickhouse"]["image"].startswith("clickhouse/clickhouse-server:")
    assert services["prometheus"]["image"].startswith("prom/prometheus:v")


def test_fhir_evidence_variables_are_settings_the_code_reads(compose: Any) -> None:
    known = {f"FHIR_EVIDENCE_{name.upper()}" for name in Settings.model_fields}
    for name in ("api-1", "api-2", "worker"):
        env = _env(compose["services"][name])
        ours = {key for key in env if key.startswith("FHIR_EVIDENCE_")}
        assert ours <= known, ours - known
        assert env["FHIR_EVIDENCE_KAFKA_BOOTSTRAP"] == "kafka:9092"
        assert env["FHIR_EVIDENCE_CLICKHOUSE_URL"].startswith("http://")
        assert "@clickhouse:8123/" in env["FHIR_EVIDENCE_CLICKHOUSE_URL"]
        Settings(**{k.removeprefix("FHIR_EVIDENCE_").lower(): v for k, v in env.items()
                    if k.startswith("FHIR_EVIDENCE_")})  # fmt: skip
    pipeline = ("api-1", "api-2", "worker")
    keys = {_env(compose["services"][n])["FHIR_EVIDENCE_HASH_KEY"] for n in pipeline}
    assert len(keys) == 1  # one pseudonym per identifier across the whole stack
    for name in pipeline:  # the checkpoint signing key, on a volume every one of them mounts
        service = compose["services"][name]
        key_file = _env(service)["FHIR_EVIDENCE_SIGNING_KEY_FILE"]
        assert any(v.endswith(":" + key_file.rsplit("/", 1)[0]) for v in service["volumes"])


def test_the_pipeline_wiring_matches_the_runtimes(compose: Any) -> None:
    services = compose["services"]
    for name in ("api-1", "api-2"):
        assert services[name]["command"][:2] == ["fhir-evidence", "serve"]
        assert services[name]["command"][-2:] == ["--role", "api"]
        assert services[name]["build"] == "."
    assert "fhir-evidence worker" in " ".join(services["worker"]["command"])
    kafka = _env(services["kafka"])
    assert kafka["KAFKA_PROCESS_ROLES"] == "broker,controller"  # KRaft, no ZooKeeper
    assert "PLAINTEXT://kafka:9092" in kafka["KAFKA_ADVERTISED_LISTENERS"]
    clickhouse = _env(services["clickhouse"])
    url = _env(services["worker"])["FHIR_EVIDENCE_CLICKHOUSE_URL"]
    user, password = re.match(r"http://([^:]+):([^@]+)@", url).groups()  # type: ignore[union-attr]
    assert (clickhouse["CLICKHOUSE_USER"], clickhouse["CLICKHOUSE_PASSWORD"]) == (user, password)
    for name in ("api-1", "api-2", "worker"):
        for dependency, condition in services[name]["depends_on"].items():
            assert dependency in services and condition["condition"] == "service_healthy"


def test_every_replica_and_the_worker_share_one_postgresql(compose: Any) -> None:
    """One FHIR store for the whole stack: a write through one replica is read through the
    other, and enrichment reads what they serve; nobody seeds a copy of its own."""
    services = compose["services"]
    postgres = services["postgres"]
    assert postgres["image"].startswith("postgres:") and postgres["volumes"]
    env = _env(postgres)
    urls = {_env(services[n])["FHIR_EVIDENCE_FHIR_STORE_URL"] for n in ("api-1", "api-2", "worker")}
    assert urls == {
        f"postgresql://{env['POSTGRES_USER']}:{env['POSTGRES_PASSWORD']}@postgres:5432/"
        f"{env['POSTGRES_DB']}"
    }
    assert "seed" not in " ".join(services["worker"]["command"])
    for name in ("api-1", "api-2"):  # export jobs on a volume both replicas mount
        export_dir = _env(services[name])["FHIR_EVIDENCE_EXPORT_DIR"]
        assert f"exports:{export_dir}" in services[name]["volumes"]
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_ports_are_distinct_and_match_base_urls(compose: Any) -> None:
    published = [p.split(":")[0] for s in compose["services"].values() for p in s.get("ports", [])]
    assert len(published) == len(set(published))
    for name in ("api-1", "api-2"):
        service = compose["services"][name]
        host_port = service["ports"][0].split(":")[0]
        assert _env(service)["FHIR_EVIDENCE_BASE_URL"] == f"http://localhost:{host_port}"


def test_grafana_is_provisioned_from_dashboards(compose: Any) -> None:
    grafana = compose["services"]["grafana"]
    assert "grafana-clickhouse-datasource" in _env(grafana)["GF_INSTALL_PLUGINS"]
    for volume in grafana["volumes"]:
        source = volume.split(":")[0]
        assert (ROOT / source).is_dir(), source
    datasource = yaml.safe_load(
        (ROOT / "dashboards/grafana/provisioning/datasources/clickhouse.yaml").read_text()
    )["datasources"][0]
    assert datasource["type"] == "grafana-clickhouse-datasource"
    assert datasource["jsonData"]["host"] == "clickhouse"
    assert datasource["jsonData"]["defaultDatabase"] == "evidence"


def _scrape_targets(config: dict[str, Any]) -> dict[str, set[str]]:
    jobs = {}
    for job in config["scrape_configs"]:
        assert job["metrics_path"] == "/metrics"
        jobs[job["job_name"]] = {t for group in job["static_configs"] for t in group["targets"]}
    return jobs


def test_prometheus_scrapes_the_api_replicas_and_the_worker_and_grafana_reads_it(
    compose: Any,
) -> None:
    services = compose["services"]
    prometheus = services["prometheus"]
    mounts = dict(v.split(":")[:2] for v in prometheus["volumes"])
    config_path = mounts["./dashboards/prometheus/prometheus.yml"]
    assert config_path == "/etc/prometheus/prometheus.yml"  # where the image reads it
    config = yaml.safe_load((ROOT / "dashboards/prometheus/prometheus.yml").read_text())
    jobs = _scrape_targets(config)
    assert set(jobs) == {"fhir-evidence-api", "fhir-evidence-worker"}
    replicas = [n for n, s in services.items() if s.get("command", [])[-2:] == ["--role", "api"]]
    assert jobs["fhir-evidence-api"] == {
        f"{n}:{services[n]['ports'][0].split(':')[1]}" for n in replicas
    }
    # The worker serves its metrics on all its interfaces, on the port Prometheus scrapes,
    # exposed on the compose network only.
    worker = services["worker"]
    env = _env(worker)
    port = env["FHIR_EVIDENCE_WORKER_METRICS_PORT"]
    assert env["FHIR_EVIDENCE_WORKER_METRICS_HOST"] == "0.0.0.0"
    assert jobs["fhir-evidence-worker"] == {f"worker:{port}"}
    assert port in [str(p) for p in worker["expose"]] and "ports" not in worker
    assert Settings.model_fields["worker_metrics_port"].default == int(port)  # the default
    assert services["grafana"]["depends_on"]["prometheus"]["condition"] == "service_healthy"
    datasource = yaml.safe_load(
        (ROOT / "dashboards/grafana/provisioning/datasources/prometheus.yaml").read_text()
    )["datasources"][0]
    assert datasource["type"] == "prometheus"
    assert datasource["url"] == f"http://prometheus:{prometheus['ports'][0].split(':')[1]}"
    assert datasource["jsonData"]["timeInterval"] == config["global"]["scrape_interval"]


def test_dockerfile_installs_the_package_and_runs_the_cli() -> None:
    text = (ROOT / "Dockerfile").read_text()
    assert text.startswith("#") and "FROM python:3.11" in text
    for package in ("api", "stream", "evidence"):
        assert f"COPY {package} ./{package}" in text
    assert "pip install ." in text and 'CMD ["fhir-evidence", "serve"' in text
    assert "USER fhir" in text


API_REPLICAS = ("api-1", "api-2")


def _issuers(value: str) -> list[dict[str, Any]]:
    return Settings(trusted_issuers=value).model_dump()["trusted_issuers"]  # type: ignore[no-any-return]


def test_the_replicas_trust_the_keycloak_realm_and_nothing_else(compose: Any) -> None:
    """Never the development issuer: the replicas listen on 0.0.0.0, so without a trusted
    issuer `serve` would refuse to start (api.boot.exposure). They trust the keycloak
    service's realm, imported from the realm file the Keycloak tests run against: its issuer
    as clients see it (--hostname), its keys on the compose network, its audience mapper's aud."""
    services = compose["services"]
    keycloak = services["keycloak"]
    assert keycloak["image"].startswith("quay.io/keycloak/keycloak:26.")
    assert keycloak["command"][:2] == ["start-dev", "--import-realm"]
    realm_file, import_path = keycloak["volumes"][0].split(":")[:2]
    assert import_path.startswith("/opt/keycloak/data/import/") and realm_file.endswith(".json")
    realm = json.loads((ROOT / realm_file).read_text())
    hostname = next(a for a in keycloak["command"] if a.startswith("--hostname="))
    host_port = keycloak["ports"][0].split(":")[-2]
    assert hostname == f"--hostname=http://localhost:{host_port}"
    assert keycloak["ports"][0].startswith("127.0.0.1:")  # demo users: loopback only
    assert "${KEYCLOAK_ADMIN_PASSWORD:?" in _env(keycloak)["KC_BOOTSTRAP_ADMIN_PASSWORD"]
    audiences = {
        m["config"]["included.custom.audience"]
        for scope in realm["clientScopes"]
        for m in scope.get("protocolMappers", [])
        if m["protocolMapper"] == "oidc-audience-mapper"
    }
    issuer = f"http://localhost:{host_port}/realms/{realm['realm']}"
    for name in API_REPLICAS:
        service = services[name]
        env = _env(service)
        assert env.get("FHIR_EVIDENCE_DEV_MODE", "false").lower() != "true"
        (trusted,) = _issuers(env["FHIR_EVIDENCE_TRUSTED_ISSUERS"])
        assert trusted["issuer"] == issuer and audiences == {trusted["audience"]}
        internal = f"http://keycloak:{keycloak['ports'][0].split(':')[-1]}/realms/{realm['realm']}"
        assert trusted["jwks_uri"] == f"{internal}/protocol/openid-connect/certs"
        assert service["depends_on"]["keycloak"]["condition"] == "service_healthy"
        for endpoint in ("token", "auth"):  # advertised in the SMART configuration
            setting = "TOKEN" if endpoint == "token" else "AUTHORIZATION"
            advertised = env[f"FHIR_EVIDENCE_{setting}_ENDPOINT"]
            assert advertised == f"{issuer}/protocol/openid-connect/{endpoint}"
        assert "0.0.0.0" in service["command"]  # a reachable address: hence the issuer


def test_the_dockerfile_ships_the_same_trusted_issuer() -> None:
    text = (ROOT / "Dockerfile").read_text()
    line = next(li for li in text.splitlines() if li.startswith("ENV FHIR_EVIDENCE_TRUSTED"))
    issuers = _issuers(line.split("=", 1)[1].strip().strip("'"))
    assert str(issuers[0]["jwks_file"]) == "/etc/fhir-evidence/issuer/jwks.json"
    assert "COPY deploy/issuer/jwks.json /etc/fhir-evidence/issuer/jwks.json" in text
    assert "jwks_uri" in text  # it says how to use the hospital's identity provider
    assert "FHIR_EVIDENCE_DEV_MODE" not in line


def test_no_fixed_secret_is_published_or_used_as_the_hash_key(compose: Any) -> None:
    """ClickHouse (fixed password in this file) is reachable on the compose network only,
    like Kafka and PostgreSQL; the hash key is not in the file at all: compose refuses to
    start until the operator sets it (and `serve`/`worker` refuse the old placeholder)."""
    services = compose["services"]
    for name in ("clickhouse", "kafka", "postgres", "worker"):
        assert "ports" not in services[name], name
    for name in ("api-1", "api-2", "worker"):
        key = _env(services[name])["FHIR_EVIDENCE_HASH_KEY"]
        assert re.fullmatch(r"\$\{FHIR_EVIDENCE_HASH_KEY:\?[^}]+\}", key), key
    assert "change-me-to" not in (ROOT / "docker-compose.yml").read_text()


def test_metrics_are_switched_on_where_prometheus_scrapes_them(compose: Any) -> None:
    assert Settings.model_fields["expose_metrics"].default is False  # off unless asked
    for name in API_REPLICAS:
        assert _env(compose["services"][name])["FHIR_EVIDENCE_EXPOSE_METRICS"] == "true"
        assert "FHIR_EVIDENCE_EXPOSE_OPENAPI" not in _env(compose["services"][name])
