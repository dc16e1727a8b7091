"""docker-compose.yml against the code (no Docker engine runs here): images, commands and
their options, settings names, ports, dependencies and health checks, mounted files, the
Kafka cluster and topic, the load balancer and Prometheus covering every replica."""

from __future__ import annotations

import re
import shlex
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from app.settings import Settings
from tests.unit.deploy.contract import ROOT, app_routes, environment_names, parse_cli
from tests.unit.deploy.test_dockerfile import stages

OFFICIAL = {
    "redis": r"redis:7(\.\d+)*",
    "postgres": r"postgres:16(\.\d+)*",
    "kafka": r"apache/kafka:\d+\.\d+\.\d+",
    "lb": r"(nginx|haproxy):[\d.]+",
    "prometheus": r"prom/prometheus:v[\d.]+",
    "grafana": r"grafana/grafana:[\d.]+",
}


@cache
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def services() -> dict[str, dict[str, Any]]:
    return compose()["services"]


def ours(kind: str = "runtime") -> dict[str, dict[str, Any]]:
    return {n: s for n, s in services().items() if s.get("build", {}).get("target") == kind}


def apis() -> dict[str, dict[str, Any]]:
    return {n: s for n, s in ours().items() if s["command"][0] == "serve"}


def env(service: dict[str, Any]) -> dict[str, str]:
    return {k: str(v) for k, v in (service.get("environment") or {}).items()}


def test_official_images_for_the_servers() -> None:
    for name, pattern in OFFICIAL.items():
        images = [
            s["image"] for n, s in services().items() if n == name or n.startswith(f"{name}-")
        ]
        assert images, name
        for image in images:
            assert re.fullmatch(pattern, image), (name, image)


def test_our_services_build_a_stage_of_the_dockerfile() -> None:
    names = {s.name for s in stages()}
    built = [s for s in services().values() if "build" in s]
    assert built
    for service in built:
        assert service["build"]["context"] == "."
        assert service["build"]["target"] in names


def test_every_command_is_a_real_cli_command_with_real_options() -> None:
    commands = {name: parse_cli(s["command"])[0] for name, s in ours().items()}
    assert {"serve", "consume", "train", "generate", "replay"} <= set(commands.values())


def test_locust_runs_the_repository_locustfile_against_the_load_balancer() -> None:
    (locust,) = ours("locust").values()
    args = locust["command"]
    assert (ROOT / args[args.index("-f") + 1]).is_file()
    assert args[args.index("--host") + 1] == lb_url()
    assert env(locust)["LOCUST_DATA"].startswith("/data/")
    port = args[args.index("--web-port") + 1]
    assert any(p.endswith(f":{port}") for p in locust["ports"])


def test_every_fraud_environment_name_is_a_setting() -> None:
    for name, service in services().items():
        for variable in env(service):
            if variable.startswith("FRAUD_"):
                assert variable in environment_names(), (name, variable)


def test_the_settings_of_every_service_are_valid() -> None:
    for name, service in ours().items():
        values = {
            k.removeprefix("FRAUD_").lower(): re.sub(r"\$\{[^}]*\}", "x", v)
            for k, v in env(service).items()
            if k.startswith("FRAUD_") and k != "FRAUD_API_KEY"
        }
        Settings(**values)  # raises on a bad value or a refused combination
        assert name


def test_api_replicas_bind_the_port_their_health_check_and_clients_use() -> None:
    replicas = apis()
    assert len(replicas) >= 2
    for name, api in replicas.items():
        _, options = parse_cli(api["command"])
        assert options["host"] == "0.0.0.0"
        assert str(options["port"]) == env(api)["FRAUD_PORT"] == "8000"
        check = " ".join(api["healthcheck"]["test"])
        url = urlsplit(re.search(r"http://[^'\" ]+", check).group(0))  # type: ignore[union-attr]
        assert url.port == options["port"]
        assert url.path == "/readyz"
        assert url.path in app_routes()
        assert "ports" not in api, f"{name}: reached through the load balancer only"
        assert api["read_only"] is True
        assert "/tmp" in api["tmpfs"]


def test_each_api_replica_has_a_spool_volume_of_its_own() -> None:
    spools = []
    for api in apis().values():
        spool_dir = env(api)["FRAUD_SPOOL_PATH"].rsplit("/", 1)[0]
        (volume,) = [v for v in api["volumes"] if v.split(":")[1] == spool_dir]
        spools.append(volume.split(":")[0])
    assert len(set(spools)) == len(spools)


def nginx_conf() -> str:
    (mount,) = services()["lb"]["volumes"]
    source, target, _ = mount.split(":")
    assert target == "/etc/nginx/nginx.conf"
    return (ROOT / source).read_text()


def lb_url() -> str:
    port = re.search(r"listen (\d+);", nginx_conf()).group(1)  # type: ignore[union-attr]
    return f"http://lb:{port}"


def test_the_load_balancer_spreads_over_every_api_replica() -> None:
    upstream = re.findall(r"^\s*server ([\w-]+):(\d+)", nginx_conf(), re.M)
    assert sorted(upstream) == sorted((name, "8000") for name in apis())
    lb = services()["lb"]
    port = lb_url().rsplit(":", 1)[1]
    assert any(p.endswith(f":{port}:{port}") for p in lb["ports"])
    assert f":{port}/healthz" in " ".join(lb["healthcheck"]["test"])
    assert "Upgrade $http_upgrade" in nginx_conf()  # /v1/stream is a WebSocket


def test_the_traffic_generator_replays_through_the_load_balancer() -> None:
    (replay,) = [s for s in ours().values() if s["command"][0] == "replay"]
    _, options = parse_cli(replay["command"])
    assert options["url"] == lb_url()
    (train,) = [s for s in ours().values() if s["command"][0] == "train"]
    (generate,) = [s for s in ours().values() if s["command"][0] == "generate"]
    _, made = parse_cli(generate["command"])
    assert parse_cli(train["command"])[1]["data"] == made["out"] == options["data"]
    for api in apis().values():  # a generated history keeps its own event times
        assert env(api)["FRAUD_EVENT_TIME"] == "replay"


def test_the_model_is_trained_into_a_volume_the_apis_mount_read_only() -> None:
    (train,) = [s for s in ours().values() if s["command"][0] == "train"]
    out = str(parse_cli(train["command"])[1]["out"])
    (models,) = [v for v in train["volumes"] if out.startswith(v.split(":")[1] + "/")]
    for api in apis().values():
        assert env(api)["FRAUD_MODEL_DIR"] == out
        assert f"{models.split(':')[0]}:{models.split(':')[1]}:ro" in api["volumes"]
        assert api["depends_on"]["train"]["condition"] == "service_completed_successfully"


def test_depends_on_waits_for_health_checks_that_exist() -> None:
    for name, service in services().items():
        for target, how in (service.get("depends_on") or {}).items():
            assert target in services(), (name, target)
            condition = how["condition"]
            other = services()[target]
            if condition == "service_healthy":
                check = other.get("healthcheck")
                assert check, (name, target)
                assert not check.get("disable"), (name, target)
            elif condition == "service_completed_successfully":
                assert "restart" not in other, (name, target)
            else:
                pytest.fail(f"{name} -> {target}: {condition} waits for nothing")


def test_mounted_files_and_named_volumes_exist() -> None:
    for name, service in services().items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (ROOT / source).exists(), (name, source)
            else:
                assert source in compose()["volumes"], (name, source)


def kafka_brokers() -> dict[str, dict[str, Any]]:
    return {n: s for n, s in services().items() if re.fullmatch(r"kafka-\d", n)}


def test_kafka_runs_kraft_on_three_brokers() -> None:
    brokers = kafka_brokers()
    assert len(brokers) == 3
    ids = set()
    for name, broker in brokers.items():
        e = env(broker)
        assert e["KAFKA_PROCESS_ROLES"] == "broker,controller"
        voters = e["KAFKA_CONTROLLER_QUORUM_VOTERS"].split(",")
        assert sorted(v.split("@")[1].split(":")[0] for v in voters) == sorted(brokers)
        assert f"{e['KAFKA_NODE_ID']}@{name}:9093" in voters
        assert e["KAFKA_ADVERTISED_LISTENERS"] == f"PLAINTEXT://{name}:9092"
        ids.add(e["KAFKA_NODE_ID"])
    assert len(ids) == 3
    for service in ours().values():
        if "FRAUD_KAFKA_BOOTSTRAP_SERVERS" in env(service):
            servers = env(service)["FRAUD_KAFKA_BOOTSTRAP_SERVERS"].split(",")
            assert sorted(servers) == sorted(f"{n}:9092" for n in brokers)


def test_the_audit_topic_has_12_partitions_and_replication_factor_2() -> None:
    args = services()["kafka-init"]["command"]
    option = {args[i]: args[i + 1] for i in range(len(args) - 1) if args[i].startswith("--")}
    assert "--create" in args
    assert option["--topic"] == Settings.model_fields["audit_topic"].default
    assert option["--partitions"] == "12"
    assert option["--replication-factor"] == "2"
    for service in ours().values():  # the API would create it the same way
        e = env(service)
        if "FRAUD_AUDIT_PARTITIONS" in e:
            assert e["FRAUD_AUDIT_PARTITIONS"] == "12"
            assert e["FRAUD_AUDIT_REPLICATION_FACTOR"] == "2"
    for name in ours():
        if "FRAUD_KAFKA_BOOTSTRAP_SERVERS" in env(services()[name]):
            assert services()[name]["depends_on"]["kafka-init"]["condition"] == (
                "service_completed_successfully"
            )


def test_the_consumer_serves_its_metrics_where_prometheus_scrapes() -> None:
    consumer = services()["consumer"]
    assert parse_cli(consumer["command"])[0] == "consume"
    port = env(consumer)["FRAUD_CONSUMER_METRICS_PORT"]
    assert env(consumer)["FRAUD_HOST"] == "0.0.0.0"
    assert f":{port}/metrics" in " ".join(consumer["healthcheck"]["test"])
    assert f"consumer:{port}" in scrape_targets()


def prometheus_config() -> dict[str, Any]:
    mounts = dict(v.split(":")[1::-1] for v in services()["prometheus"]["volumes"] if ":" in v)
    config = services()["prometheus"]["command"][0].split("=", 1)[1]
    return yaml.safe_load((ROOT / mounts[config]).read_text())


def scrape_targets() -> list[str]:
    return [
        target
        for job in prometheus_config()["scrape_configs"]
        for static in job.get("static_configs", [])
        for target in static["targets"]
    ]


def test_prometheus_scrapes_every_api_replica_and_loads_the_alert_rules() -> None:
    for name in apis():
        assert f"{name}:8000" in scrape_targets()
    assert "/metrics" in app_routes()
    mounts = {v.split(":")[1]: v.split(":")[0] for v in services()["prometheus"]["volumes"]}
    for rules in prometheus_config()["rule_files"]:
        assert rules in mounts, rules
        assert (ROOT / mounts[rules]).is_file()


def test_grafana_provisions_the_prometheus_datasource_and_the_dashboard() -> None:
    grafana = services()["grafana"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in grafana["volumes"]}
    provisioning = ROOT / mounts["/etc/grafana/provisioning"]
    (source,) = yaml.safe_load((provisioning / "datasources/prometheus.yml").read_text())[
        "datasources"
    ]
    port = next(p for p in services()["prometheus"]["ports"] if p.endswith(":9090")).rsplit(":", 1)[
        1
    ]
    assert source["url"] == f"http://prometheus:{port}"
    (provider,) = yaml.safe_load((provisioning / "dashboards/fraud-engine.yml").read_text())[
        "providers"
    ]
    dashboards = ROOT / mounts[provider["options"]["path"]]
    assert list(dashboards.glob("*.json"))
    assert grafana["depends_on"]["prometheus"]["condition"] == "service_healthy"


def test_no_secret_is_written_in_the_file() -> None:
    for name, service in services().items():
        for variable, value in env(service).items():
            if re.search(r"KEY|PASSWORD|SECRET", variable):
                assert re.fullmatch(r"\$\{\w+:\?[^}]*\}", value), (name, variable)
            for url in re.findall(r"\w+://[^ ]+", value):
                password = urlsplit(url).password
                assert password is None or password.startswith("${"), (name, variable)
    for name, service in services().items():
        for port in service.get("ports", []):
            assert shlex.split(port)[0].startswith("127.0.0.1:"), (name, port)
