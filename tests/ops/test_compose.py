"""No Docker engine runs here, so check the deployment files against the code instead.

Every command must name a module, file or management command that exists; every environment
variable our containers get must be one the code reads (a misspelt name is silently ignored by
the app, so it is the mistake worth catching).
"""

import importlib.util
import re
import shutil
import sys
from pathlib import Path

import pytest
import yaml
from django.core.management import get_commands

from infra.devstack import POSTGRES_LOGGING

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
DOCKERFILE = ROOT / "infra" / "docker" / "Dockerfile"
MANIFESTS = [
    doc
    for path in sorted((ROOT / "infra" / "deploy").glob("*.yaml"))
    for doc in yaml.safe_load_all(path.read_text())
]
REQUIRED_SERVICES = {"postgres", "redis", "localstripe", "api", "worker", "scheduler"}
APP_DEPLOYMENTS = {"chairside-api", "chairside-worker", "chairside-scheduler", "chairside-migrate"}
ENV_READ = re.compile(
    r"""(?:os\.environ\.get|os\.getenv|os\.environ\.setdefault|environ\.get|env_bool|env_int|env_list)\(\s*["']([A-Z][A-Z0-9_]*)["']"""
    r"""|os\.environ\[\s*["']([A-Z][A-Z0-9_]*)["']\s*\]"""
)
# Read by Python or pip themselves, not by our code.
RUNTIME_VARS = {
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONUNBUFFERED",
    "PIP_NO_CACHE_DIR",
    "PIP_DISABLE_PIP_VERSION_CHECK",
}


def names_read_by_code() -> set[str]:
    files = [ROOT / "manage.py"] + [
        p for d in ("infra", "services", "workers", "api") for p in (ROOT / d).rglob("*.py")
    ]
    return {a or b for path in files for a, b in ENV_READ.findall(path.read_text())}


ENV_NAMES = names_read_by_code()


def our_services() -> dict[str, dict]:
    return {
        name: svc
        for name, svc in COMPOSE["services"].items()
        if svc.get("build", {}).get("dockerfile") == "infra/docker/Dockerfile"
    }


def assert_command_exists(command: list[str]) -> None:
    """The program, and the module, file or management command it is given, exist in this repo."""
    program, *args = command
    if program == "python" and args[:1] == ["-m"]:
        assert importlib.util.find_spec(args[1]), f"no module {args[1]}"
    elif program == "python" and args[:1] == ["manage.py"]:
        assert (ROOT / "manage.py").exists()
        assert args[1] in get_commands(), f"no management command {args[1]}"
    elif program == "gunicorn":
        module, _, attribute = args[0].partition(":")
        assert importlib.util.find_spec(module), f"no module {module}"
        assert f"{attribute} =" in Path(importlib.util.find_spec(module).origin).read_text()
        config = args[args.index("--config") + 1]
        assert (ROOT / config).is_file(), f"no gunicorn config {config}"
    elif program == "dramatiq":
        assert importlib.util.find_spec(args[0]), f"no module {args[0]}"
    elif program == "localstripe":
        assert importlib.util.find_spec("localstripe")
    else:
        pytest.fail(f"unknown program in {command}")
    bin_dir = Path(sys.executable).parent
    assert program == "python" or shutil.which(program, path=str(bin_dir)), f"{program} is not installed"


def test_compose_has_every_service_and_one_image_for_the_app():
    assert REQUIRED_SERVICES <= set(COMPOSE["services"])
    images = {svc["image"] for name, svc in our_services().items() if name != "localstripe"}
    assert len(images) == 1
    assert {"api", "worker", "scheduler", "migrate"} <= set(our_services())


@pytest.mark.parametrize("name", sorted(set(COMPOSE["services"])))
def test_each_service_has_a_healthcheck_or_is_watched_elsewhere(name):
    service = COMPOSE["services"][name]
    one_off = service.get("restart") == "no"
    if name in {"postgres", "redis", "localstripe", "api"}:
        assert service["healthcheck"]["test"]
    else:  # workers report through the api's /readyz; one-offs exit
        assert name in {"worker", "scheduler"} or one_off


@pytest.mark.parametrize("name", sorted(our_services()))
def test_each_command_names_something_that_exists(name):
    assert_command_exists(our_services()[name]["command"])


@pytest.mark.parametrize("name", sorted(our_services()))
def test_each_environment_variable_is_read_by_the_code(name):
    unknown = sorted(set(our_services()[name].get("environment", {})) - ENV_NAMES)
    assert not unknown, f"{name} sets variables no code reads: {unknown}"


def test_the_app_waits_for_its_servers_and_migrations():
    for name in ("api", "worker", "scheduler"):
        depends = COMPOSE["services"][name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy"
        assert depends["redis"]["condition"] == "service_healthy"
        assert depends["migrate"]["condition"] == "service_completed_successfully"
    api_env = COMPOSE["services"]["api"]["environment"]
    assert {"DATABASE_URL", "REDIS_URL", "SECRET_KEY", "ALLOWED_HOSTS", "STRIPE_API_KEY"} <= set(api_env)
    assert api_env["DEBUG"] == "0"


def test_the_dockerfile_builds_from_paths_that_exist_and_runs_unprivileged():
    text = DOCKERFILE.read_text()
    assert re.search(r"^FROM python:3\.11-slim$", text, re.M)
    for line in re.findall(r"^COPY (.+)$", text, re.M):
        *sources, _dest = line.split()
        for source in sources:
            assert (ROOT / source).exists(), f"COPY {source}: no such path"
    assert re.search(r"^USER (?!root)\w+", text, re.M)
    assert "pip install" in text
    cmd = re.search(r"^CMD (\[.*\])$", text, re.M).group(1)
    assert_command_exists(yaml.safe_load(cmd))
    env_names = set(re.findall(r"^\s*(?:ENV\s+)?([A-Z][A-Z0-9_]+)=", text, re.M)) - RUNTIME_VARS
    assert env_names <= ENV_NAMES | {"DJANGO_SETTINGS_MODULE"}, env_names - ENV_NAMES


def containers(kind: str | None = None):
    for doc in MANIFESTS:
        if kind and doc["kind"] != kind:
            continue
        spec = doc.get("spec", {}).get("template", {}).get("spec", {})
        for container in spec.get("containers", []):
            yield doc, container


def test_deploy_manifests_run_the_same_image_with_commands_that_exist():
    found = {
        doc["metadata"]["name"]: container
        for doc, container in containers()
        if doc["metadata"]["name"] != "chairside-redis"  # the optional in-cluster Redis
    }
    assert set(found) == APP_DEPLOYMENTS
    assert len({c["image"] for c in found.values()}) == 1
    for container in found.values():
        assert_command_exists(container["command"])
        security = container["securityContext"]
        assert security["runAsNonRoot"] is True and security["allowPrivilegeEscalation"] is False


def test_deploy_manifests_only_set_variables_the_code_reads():
    for doc in MANIFESTS:
        if doc["kind"] == "ConfigMap":
            assert set(doc["data"]) <= ENV_NAMES, set(doc["data"]) - ENV_NAMES
    for _doc, container in containers():
        assert {e["name"] for e in container.get("env", [])} <= ENV_NAMES
    # The Secret is created by hand from the command in the file's header.
    secret_names = set(
        re.findall(r"--from-literal=([A-Z_]+)=", (ROOT / "infra/deploy/kubernetes.yaml").read_text())
    )
    assert {"SECRET_KEY", "DATABASE_URL", "REDIS_URL", "STRIPE_API_KEY"} <= secret_names <= ENV_NAMES


def test_the_api_deployment_probes_healthz_and_readyz():
    api = next(c for doc, c in containers("Deployment") if doc["metadata"]["name"] == "chairside-api")
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"


def test_compose_redis_keeps_an_fsynced_aof_on_a_volume():
    redis = COMPOSE["services"]["redis"]
    command = redis["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert command[command.index("--appendfsync") + 1] == "everysec"
    data_dir = command[command.index("--dir") + 1]
    mounts = [volume.split(":") for volume in redis["volumes"]]
    assert any(target == data_dir and source in COMPOSE["volumes"] for source, target in mounts)


def test_compose_restarts_every_long_running_service_and_probes_worker_and_scheduler():
    for name, service in COMPOSE["services"].items():
        if service.get("restart") != "no" and "profiles" not in service:
            assert service["restart"] in {"always", "unless-stopped"}, name
    for role in ("worker", "scheduler"):
        check = COMPOSE["services"][role]["healthcheck"]
        # Compose restarts nothing that is merely unhealthy: a failed probe stops PID 1 instead.
        assert check["test"] == ["CMD-SHELL", f"python -m workers.liveness {role} || kill -TERM 1"]
        assert importlib.util.find_spec("workers.liveness")
        assert check["start_period"] and check["interval"]


def test_compose_has_no_default_webhook_secret():
    text = (ROOT / "docker-compose.yml").read_text()
    assert "whsec_localstripe" not in text
    for name, service in our_services().items():
        value = service.get("environment", {}).get("STRIPE_WEBHOOK_SECRET")
        if value is not None:
            assert value.startswith("${STRIPE_WEBHOOK_SECRET:?"), name  # compose refuses to start without it


def test_compose_postgres_logs_no_statement_values_like_the_dev_stack():
    command = COMPOSE["services"]["postgres"]["command"]
    assert command[0] == "postgres"
    settings = dict(arg.split("=", 1) for arg in command[2::2])
    assert command[1::2] == ["-c"] * len(settings)
    assert settings == POSTGRES_LOGGING


def test_deploy_worker_and_scheduler_have_liveness_probes_and_restart():
    deployments = {doc["metadata"]["name"]: (doc, c) for doc, c in containers("Deployment")}
    for role in ("api", "worker", "scheduler"):
        doc, container = deployments[f"chairside-{role}"]
        assert doc["spec"]["template"]["spec"]["restartPolicy"] == "Always"
        if role != "api":
            probe = container["livenessProbe"]
            assert probe["exec"]["command"] == ["python", "-m", "workers.liveness", role]
            assert probe["failureThreshold"] * probe["periodSeconds"] <= 120


def test_deploy_redis_option_keeps_an_aof_on_a_persistent_volume():
    redis = next(doc for doc in MANIFESTS if doc["metadata"]["name"] == "chairside-redis")
    assert redis["kind"] == "StatefulSet"
    container = redis["spec"]["template"]["spec"]["containers"][0]
    command = container["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert command[command.index("--appendfsync") + 1] == "everysec"
    claim = redis["spec"]["volumeClaimTemplates"][0]["metadata"]["name"]
    mount = next(m for m in container["volumeMounts"] if m["name"] == claim)
    assert mount["mountPath"] == command[command.index("--dir") + 1]
