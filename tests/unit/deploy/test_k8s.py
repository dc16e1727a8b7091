"""The Kubernetes overlays rendered by kustomize and validated against Kubernetes' own
schemas (kubernetes-validate ships them), then against the code: probes on real routes,
ports, settings names, the HPA's target, shutdown timing, security, secrets."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from app.settings import Settings
from tests.unit.deploy.contract import ROOT, app_routes, environment_names, parse_cli

KUSTOMIZE = ROOT / "var/bin/kustomize"
# The oldest Kubernetes release the manifests must be valid for (autoscaling/v2 and
# policy/v1 are GA there), and the newest whose schemas kubernetes-validate ships.
KUBERNETES = "1.30.0"
RELEASES = [KUBERNETES, kubernetes_validate.latest_version()]
OVERLAYS = ["dev", "prod"]
Doc = dict[str, Any]


def render(path: Path) -> list[Doc]:
    if not KUSTOMIZE.exists():
        pytest.fail(f"{KUSTOMIZE} is missing: `make tools` builds it (Go)")
    out = subprocess.run(
        [str(KUSTOMIZE), "build", str(path)], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d]


@cache
def overlay(name: str) -> tuple[Doc, ...]:
    return tuple(render(ROOT / "k8s/overlays" / name))


def one(docs: tuple[Doc, ...] | list[Doc], kind: str, name: str) -> Doc:
    (found,) = [d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name]
    return found


def pod_specs(docs: tuple[Doc, ...]) -> dict[str, Doc]:
    return {
        d["metadata"]["name"]: d["spec"]["template"]["spec"]
        for d in docs
        if d["kind"] in {"Deployment", "Job", "StatefulSet"}
    }


def config(docs: tuple[Doc, ...]) -> dict[str, str]:
    (cm,) = [d for d in docs if d["kind"] == "ConfigMap"]
    return cm["data"]


@pytest.mark.parametrize("release", RELEASES)
@pytest.mark.parametrize("name", OVERLAYS)
def test_every_manifest_is_valid_against_the_kubernetes_schemas(name: str, release: str) -> None:
    kinds = set()
    for doc in overlay(name):
        kinds.add(doc["kind"])
        if doc["apiVersion"].startswith("monitoring.coreos.com/"):
            continue  # a CRD: checked against the Service below
        kubernetes_validate.validate(doc, release, strict=True)
    expected = {"Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"}
    expected |= {"Job", "ConfigMap", "NetworkPolicy", "ServiceMonitor", "Namespace"}
    assert expected <= kinds, expected - kinds


def test_a_manifest_with_an_unknown_field_is_refused() -> None:
    """The validation is strict: a misspelt field fails instead of being ignored."""
    api = dict(one(overlay("dev"), "Deployment", "fraud-api"))
    api["spec"] = {**api["spec"], "replica": 2}
    with pytest.raises(kubernetes_validate.ValidationError, match="replica"):
        kubernetes_validate.validate(api, KUBERNETES, strict=True)


@pytest.mark.parametrize("name", OVERLAYS)
def test_the_hpa_scales_the_api_deployment_on_cpu(name: str) -> None:
    docs = overlay(name)
    (hpa,) = [d for d in docs if d["kind"] == "HorizontalPodAutoscaler"]
    assert hpa["apiVersion"] == "autoscaling/v2"
    target = hpa["spec"]["scaleTargetRef"]
    api = one(docs, target["kind"], target["name"])
    assert target["apiVersion"] == api["apiVersion"] == "apps/v1"
    assert api["spec"]["template"]["spec"]["containers"][0]["args"][0] == "serve"
    (cpu,) = [m for m in hpa["spec"]["metrics"] if m["type"] == "Resource"]
    assert cpu["resource"]["name"] == "cpu"
    assert hpa["spec"]["minReplicas"] == api["spec"]["replicas"] <= hpa["spec"]["maxReplicas"]
    assert "requests" in api["spec"]["template"]["spec"]["containers"][0]["resources"]


def test_the_requests_per_second_component_adds_a_custom_metric(tmp_path: Path) -> None:
    (tmp_path / "kustomization.yaml").write_text(
        yaml.safe_dump(
            {
                "apiVersion": "kustomize.config.k8s.io/v1beta1",
                "kind": "Kustomization",
                # kustomize takes relative paths only
                "resources": [os.path.relpath(ROOT / "k8s/overlays/prod", tmp_path)],
                "components": [
                    os.path.relpath(ROOT / "k8s/components/hpa-requests-per-second", tmp_path)
                ],
            }
        )
    )
    (hpa,) = [d for d in render(tmp_path) if d["kind"] == "HorizontalPodAutoscaler"]
    kubernetes_validate.validate(hpa, KUBERNETES, strict=True)
    types = [m["type"] for m in hpa["spec"]["metrics"]]
    assert types == ["Resource", "Pods"]
    metric = hpa["spec"]["metrics"][1]["pods"]["metric"]["name"]
    assert metric in (ROOT / "docs/deploy.md").read_text(), "the adapter rule is documented"


@pytest.mark.parametrize("name", OVERLAYS)
def test_probes_hit_real_routes_on_the_served_port(name: str) -> None:
    docs = overlay(name)
    (api,) = pod_specs(docs)["fraud-api"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in api["ports"]}
    assert ports["http"] == int(config(docs)["FRAUD_PORT"])
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        get = api[probe]["httpGet"]
        assert get["path"] in app_routes(), (probe, get)
        assert get["port"] in ports, (probe, get)
    (consumer,) = pod_specs(docs)["fraud-consumer"]["containers"]
    metrics = {p["name"]: p["containerPort"] for p in consumer["ports"]}["metrics"]
    assert metrics == int(config(docs)["FRAUD_CONSUMER_METRICS_PORT"])
    assert consumer["livenessProbe"]["httpGet"]["port"] == "metrics"


@pytest.mark.parametrize("name", OVERLAYS)
def test_every_container_runs_a_real_cli_command(name: str) -> None:
    commands = set()
    for spec in pod_specs(overlay(name)).values():
        for container in spec["containers"]:
            assert "command" not in container, "the image's entry point is `fraud`"
            commands.add(parse_cli(container["args"])[0])
    assert commands == {"serve", "consume", "train"}


@pytest.mark.parametrize("name", OVERLAYS)
def test_every_fraud_name_is_a_setting_and_the_settings_are_valid(name: str) -> None:
    docs = overlay(name)
    values = config(docs)
    for spec in pod_specs(docs).values():
        for container in spec["containers"]:
            for variable in container.get("env", []):
                assert variable["name"] in environment_names(), variable["name"]
    assert set(values) <= environment_names(), set(values) - environment_names()
    # Secrets stand in for what the cluster's Secrets hold.
    Settings(
        **{k.removeprefix("FRAUD_").lower(): v for k, v in values.items()},
        api_keys="0" * 64,
    )


@pytest.mark.parametrize("name", OVERLAYS)
def test_secrets_are_referenced_never_committed(name: str) -> None:
    docs = overlay(name)
    assert not [d for d in docs if d["kind"] == "Secret"]
    values = config(docs)
    for variable in values:
        assert not re.search(r"KEY|PASSWORD|SECRET|DATABASE_URL|REDIS_URL", variable), variable
    (api,) = pod_specs(docs)["fraud-api"]["containers"]
    from_secrets = {e["name"] for e in api["env"] if "secretKeyRef" in e.get("valueFrom", {})}
    assert {"FRAUD_API_KEYS", "FRAUD_DATABASE_URL", "FRAUD_REDIS_URL"} <= from_secrets


@pytest.mark.parametrize("name", OVERLAYS)
def test_pods_are_non_root_read_only_and_unprivileged(name: str) -> None:
    docs = overlay(name)
    spool_dir = str(Path(config(docs)["FRAUD_SPOOL_PATH"]).parent)
    for workload, spec in pod_specs(docs).items():
        assert spec["securityContext"]["runAsNonRoot"] is True, workload
        assert spec["securityContext"]["runAsUser"] != 0, workload
        assert spec["automountServiceAccountToken"] is False, workload
        for container in spec["containers"]:
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True, workload
            assert security["allowPrivilegeEscalation"] is False, workload
            assert security["capabilities"]["drop"] == ["ALL"], workload
            mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
            assert "/tmp" in mounts, workload  # tl2cgen's scratch, matplotlib's cache
            assert container["resources"]["requests"], workload
            assert container["resources"]["limits"], workload
        if workload == "fraud-api":
            assert not mounts[spool_dir].get("readOnly"), "the spool is written"
            model_root = str(Path(config(docs)["FRAUD_MODEL_DIR"]).parent)
            assert mounts[model_root]["readOnly"] is True


def shutdown_steps() -> int:
    """The lifespan's bounded shutdown steps (app/lifespan.py): one per stop it registers."""
    return (ROOT / "app/lifespan.py").read_text().count('on_stop("')


@pytest.mark.parametrize("name", OVERLAYS)
def test_graceful_shutdown_outlasts_the_drain(name: str) -> None:
    docs = overlay(name)
    api_deployment = one(docs, "Deployment", "fraud-api")
    spec = api_deployment["spec"]["template"]["spec"]
    (api,) = spec["containers"]
    sleep = api["lifecycle"]["preStop"]["exec"]["command"]
    assert sleep[0] == "sleep"
    step_s = float(config(docs)["FRAUD_SHUTDOWN_STEP_TIMEOUT_S"])
    keep_alive = Settings.model_fields["keep_alive_timeout_s"].default
    assert shutdown_steps() == 10
    drain = float(sleep[1]) + keep_alive + shutdown_steps() * step_s
    assert spec["terminationGracePeriodSeconds"] > drain
    strategy = api_deployment["spec"]["strategy"]
    assert strategy["type"] == "RollingUpdate"
    assert strategy["rollingUpdate"]["maxUnavailable"] == 0


@pytest.mark.parametrize("name", OVERLAYS)
def test_consumers_are_no_more_than_the_partitions(name: str) -> None:
    docs = overlay(name)
    consumer = one(docs, "Deployment", "fraud-consumer")
    assert 1 <= consumer["spec"]["replicas"] <= int(config(docs)["FRAUD_AUDIT_PARTITIONS"])
    assert not [
        d
        for d in docs
        if d["kind"] == "HorizontalPodAutoscaler"
        and d["spec"]["scaleTargetRef"]["name"] == "fraud-consumer"
    ]


@pytest.mark.parametrize("name", OVERLAYS)
def test_the_training_job_writes_the_bundle_the_api_serves(name: str) -> None:
    docs = overlay(name)
    specs = pod_specs(docs)
    (job,) = [d for d in docs if d["kind"] == "Job"]
    (train,) = specs[job["metadata"]["name"]]["containers"]
    out = str(parse_cli(train["args"])[1]["out"])
    assert out == config(docs)["FRAUD_MODEL_DIR"]
    claims = {
        v["name"]: v["persistentVolumeClaim"]["claimName"]
        for v in specs["fraud-api"]["volumes"] + specs[job["metadata"]["name"]]["volumes"]
        if "persistentVolumeClaim" in v
    }
    mounted = {m["mountPath"]: m["name"] for m in train["volumeMounts"]}
    (api,) = specs["fraud-api"]["containers"]
    api_mounted = {m["mountPath"]: m["name"] for m in api["volumeMounts"]}
    root = str(Path(out).parent)
    assert claims[mounted[root]] == claims[api_mounted[root]]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"


@pytest.mark.parametrize("name", OVERLAYS)
def test_the_pdb_and_service_select_the_api_pods(name: str) -> None:
    docs = overlay(name)
    labels = one(docs, "Deployment", "fraud-api")["spec"]["template"]["metadata"]["labels"]
    for kind in ("PodDisruptionBudget",):
        selector = one(docs, kind, "fraud-api")["spec"]["selector"]["matchLabels"]
        assert selector.items() <= labels.items()
    service = one(docs, "Service", "fraud-api")
    assert service["spec"]["selector"].items() <= labels.items()


@pytest.mark.parametrize("name", OVERLAYS)
def test_each_service_monitor_scrapes_a_named_port_of_a_service(name: str) -> None:
    docs = overlay(name)
    monitors = [d for d in docs if d["kind"] == "ServiceMonitor"]
    assert {m["metadata"]["name"] for m in monitors} == {"fraud-api", "fraud-consumer"}
    for monitor in monitors:
        assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
        assert set(monitor["spec"]) <= {"selector", "endpoints", "namespaceSelector"}
        selector = monitor["spec"]["selector"]["matchLabels"]
        (service,) = [
            d
            for d in docs
            if d["kind"] == "Service" and selector.items() <= d["metadata"]["labels"].items()
        ]
        ports = {p["name"] for p in service["spec"]["ports"]}
        for endpoint in monitor["spec"]["endpoints"]:
            assert endpoint["port"] in ports, (monitor["metadata"]["name"], endpoint)
            assert endpoint["path"] in app_routes()


@pytest.mark.parametrize("name", OVERLAYS)
def test_network_policies_cover_every_pod(name: str) -> None:
    docs = overlay(name)
    policies = [d for d in docs if d["kind"] == "NetworkPolicy"]
    for workload, spec in pod_specs(docs).items():
        labels = next(
            d for d in docs if d["metadata"]["name"] == workload and "template" in d["spec"]
        )["spec"]["template"]["metadata"]["labels"]
        own = [
            p for p in policies if p["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
        ]
        assert len(own) >= 2, workload  # the default deny and its own
        assert spec


def test_prod_runs_with_production_settings_and_dev_without() -> None:
    assert config(overlay("prod"))["FRAUD_ENVIRONMENT"] == "production"
    assert config(overlay("dev"))["FRAUD_ENVIRONMENT"] == "development"
    for name in OVERLAYS:
        namespaces = {
            d["metadata"].get("namespace") for d in overlay(name) if d["kind"] != "Namespace"
        }
        (ns,) = [d for d in overlay(name) if d["kind"] == "Namespace"]
        assert namespaces == {ns["metadata"]["name"]}


def test_the_tools_are_pinned_in_the_makefile() -> None:
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^KUSTOMIZE_VERSION := v\d+\.\d+\.\d+$", makefile, re.M)
    assert shutil.which("go") or KUSTOMIZE.exists()
