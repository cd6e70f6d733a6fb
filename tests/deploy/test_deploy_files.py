"""deploy/: the compose file, the Kubernetes manifests and the Dockerfile, checked by reading them
(no container engine here) against the code they run: every AGORA_* variable is a setting and
its value is accepted, every command is one the CLI takes, every probe is a route of the app,
ports and names agree between the pieces, shutdown grace covers the drain, and nginx in compose
is configured from the very file `make cluster` uses."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from agora.app import WEBSOCKETS, create_app
from agora.cli import build_parser
from agora.settings import Settings, SettingsGroup
from deploy.cluster import (
    SITE_TEMPLATE,
    check_config,
    nginx_binary,
    render_site,
    write_config,
)
from tests.support.config import settings_under_test

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
COMPOSE = DEPLOY / "compose.yaml"
K8S = DEPLOY / "k8s"
GOOD_SECRET = "s" * 40
# ingress-nginx's upstream-keepalive-timeout (its ConfigMap's default)
INGRESS_NGINX_UPSTREAM_KEEPALIVE_SECONDS = 60

Document = dict[str, Any]


def setting_variables() -> set[str]:
    """Every environment variable ``Settings`` reads: its fields, and its groups' fields under
    their own prefixes."""
    names = set()
    for name, field in Settings.model_fields.items():
        group = field.annotation
        if isinstance(group, type) and issubclass(group, SettingsGroup):
            prefix = group.model_config.get("env_prefix", "")
            names |= {f"{prefix}{member}".upper() for member in group.model_fields}
        else:
            names.add(f"{Settings.model_config.get('env_prefix', '')}{name}".upper())
    return names


def compose() -> Document:
    document: Document = yaml.safe_load(COMPOSE.read_text())
    return document


def compose_agora_services() -> dict[str, Document]:
    return {
        name: service
        for name, service in compose()["services"].items()
        if service.get("image", "").startswith("agora:")
    }


def manifests() -> list[Document]:
    return [
        document
        for path in sorted(K8S.glob("*.yaml"))
        if path.name != "kustomization.yaml"
        for document in yaml.safe_load_all(path.read_text())
        if document
    ]


def manifest(kind: str, name: str) -> Document:
    found = [d for d in manifests() if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"one {kind} {name} in deploy/k8s, found {len(found)}"
    return found[0]


def pod_specs() -> Iterator[tuple[str, Document]]:
    for document in manifests():
        if document["kind"] in ("Deployment", "Job"):
            yield document["metadata"]["name"], document["spec"]["template"]["spec"]


def k8s_environment() -> dict[str, str]:
    """What a pod's envFrom gives it: the ConfigMap and the Secret."""
    return {
        **manifest("ConfigMap", "agora-settings")["data"],
        **manifest("Secret", "agora-secrets")["stringData"],
    }


def interpolated(value: str, given: Mapping[str, str]) -> str:
    """Compose's ``${NAME:?message}`` (from ``given``) and ``${NAME:-default}``."""

    def fill(match: re.Match[str]) -> str:
        name, operator, rest = match.group(1), match.group(2), match.group(3)
        if operator == ":-":
            return given.get(name, rest)
        return given[name]

    return re.sub(r"\$\{([A-Z0-9_]+)(:[-?])([^}]*)\}", fill, value)


def settings_from(environment: Mapping[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    """``Settings()`` as a process with exactly ``environment`` builds it."""
    for name in setting_variables():
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return Settings(_env_file=None)


@pytest.fixture(autouse=True)
def _no_env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the groups read a .env in the working directory: none here
    monkeypatch.chdir(tmp_path)


# --- settings -----------------------------------------------------------------------------------


def test_every_agora_variable_is_a_setting() -> None:
    known = setting_variables()
    used = {
        f"compose {service}": set(spec["environment"])
        for service, spec in compose_agora_services().items()
    }
    used["k8s ConfigMap and Secret"] = set(k8s_environment())
    for name, pod in pod_specs():
        for container in pod["containers"]:
            used[f"k8s {name}"] = {variable["name"] for variable in container.get("env", [])}
    dockerfile_env = re.findall(r"\b(AGORA_[A-Z0-9_]+)=", (DEPLOY / "Dockerfile").read_text())
    used["Dockerfile"] = set(dockerfile_env)
    for where, names in used.items():
        assert names <= known, f"{where}: not settings of agora.settings: {names - known}"
    assert dockerfile_env, "the image says where media and mail go"


def test_compose_settings_are_accepted_once_the_secret_is_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for service in compose_agora_services().values():
        environment = {
            name: interpolated(str(value), {"AGORA_JWT_SECRET": GOOD_SECRET})
            for name, value in service["environment"].items()
        }
        settings = settings_from(environment, monkeypatch)
        assert settings.environment == "production"
        assert settings.database_url.startswith("postgresql+asyncpg://")
        assert settings.redis_url
        assert settings.broker_url
    # no default for the secret: compose refuses to start without one
    secret = compose_agora_services()["node-1"]["environment"]["AGORA_JWT_SECRET"]
    assert re.fullmatch(r"\$\{AGORA_JWT_SECRET:\?[^}]+\}", secret)


def test_k8s_settings_refuse_the_placeholder_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match="AGORA_JWT_SECRET"):
        settings_from(k8s_environment(), monkeypatch)
    settings = settings_from({**k8s_environment(), "AGORA_JWT_SECRET": GOOD_SECRET}, monkeypatch)
    assert settings.environment == "production"
    assert settings.public_url == "https://agora.example.com"
    for name, pod in pod_specs():
        for container in pod["containers"]:
            sources = {next(iter(source.values()))["name"] for source in container["envFrom"]}
            assert sources == {"agora-settings", "agora-secrets"}, name


# --- commands, ports, probes ---------------------------------------------------------------------


def cli(command: list[str]) -> Any:
    """The arguments ``agora`` would run ``command`` with; fails as the CLI would refuse it."""
    assert command[0] == "agora", command
    return build_parser().parse_args(command[1:])


def dockerfile_command() -> list[str]:
    match = re.search(r"^CMD (\[.*\])$", (DEPLOY / "Dockerfile").read_text(), re.MULTILINE)
    assert match, "the Dockerfile has an exec-form CMD"
    command: list[str] = json.loads(match.group(1))
    return command


def test_every_image_command_is_one_the_cli_takes() -> None:
    services = compose_agora_services()
    commands = {f"compose {name}": spec["command"] for name, spec in services.items()}
    for name, pod in pod_specs():
        for container in pod["containers"]:
            commands[f"k8s {name}"] = container["command"]
    commands["Dockerfile"] = dockerfile_command()
    ran = {where: cli(command).command for where, command in commands.items()}
    assert ran == {
        "compose migrate": "migrate",
        "compose node-1": "serve",
        "compose node-2": "serve",
        "compose worker": "worker",
        "k8s agora-migrate": "migrate",
        "k8s agora-node": "serve",
        "k8s agora-worker": "worker",
        "Dockerfile": "serve",
    }
    for where, command in commands.items():
        if ran[where] == "serve":
            arguments = cli(command)
            # in a container the node listens on every interface, on the port the image exposes
            assert (arguments.host, arguments.port) == ("0.0.0.0", 8000), where  # noqa: S104
    assert re.search(r"^EXPOSE 8000$", (DEPLOY / "Dockerfile").read_text(), re.MULTILINE)


def test_the_image_installs_the_lock_and_runs_unprivileged() -> None:
    text = (DEPLOY / "Dockerfile").read_text()
    assert "uv sync --frozen --no-dev" in text
    user = re.findall(r"^USER (\S+)$", text, re.MULTILINE)
    assert user
    assert user[-1] not in ("root", "0")
    ignored = site_directives((DEPLOY / "Dockerfile.dockerignore").read_text())
    assert ignored[0] == "*", "the context holds only what the image needs"


@pytest.fixture(scope="module")
def app_paths(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    workdir = tmp_path_factory.mktemp("app")
    app = create_app(
        settings_under_test(workdir, database_url=f"sqlite+aiosqlite:///{workdir / 'a.db'}")
    )
    # the routes the API documents: the operations' ones (/healthz, /readyz) among them
    return set(app.openapi()["paths"])


def test_probes_are_the_apps_health_routes(app_paths: set[str]) -> None:
    node = manifest("Deployment", "agora-node")["spec"]["template"]["spec"]["containers"][0]
    port_names = {port["name"]: port["containerPort"] for port in node["ports"]}
    assert node["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert node["livenessProbe"]["httpGet"]["path"] == "/healthz"
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        get = node[probe]["httpGet"]
        assert get["path"] in app_paths, probe
        assert port_names[get["port"]] == cli(node["command"]).port, probe
    for name, service in compose_agora_services().items():
        if "healthcheck" in service:
            url = re.search(
                r"http://127\.0\.0\.1:(\d+)(/\w+)", " ".join(service["healthcheck"]["test"])
            )
            assert url, name
            assert int(url.group(1)) == cli(service["command"]).port, name
            assert url.group(2) == "/readyz", name
            assert url.group(2) in app_paths


def test_graceful_shutdown_fits_in_the_grace_period() -> None:
    node = manifest("Deployment", "agora-node")["spec"]["template"]["spec"]
    container = node["containers"][0]
    pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    drain = cli(container["command"]).graceful_timeout
    # the kubelet's SIGKILL comes this long after preStop began: preStop, then the drain
    assert node["terminationGracePeriodSeconds"] > int(pre_stop[1]) + drain
    worker = manifest("Deployment", "agora-worker")["spec"]["template"]["spec"]
    jobs_grace = Settings.model_fields["jobs"].default_factory().graceful_seconds  # type: ignore[call-arg, misc]
    assert worker["terminationGracePeriodSeconds"] > jobs_grace
    for name, service in compose_agora_services().items():
        if name == "migrate":
            continue
        grace = int(service["stop_grace_period"].removesuffix("s"))
        arguments = cli(service["command"])
        needed = arguments.graceful_timeout if arguments.command == "serve" else jobs_grace
        assert grace > needed, name


# --- the proxy -----------------------------------------------------------------------------------


def test_compose_nginx_is_configured_from_the_clusters_site_file() -> None:
    document = compose()
    nginx = document["services"]["nginx"]
    mounts = [volume.split(":") for volume in nginx["volumes"]]
    sources = {(COMPOSE.parent / source).resolve(): target for source, target, *_ in mounts}
    # the image fills in /etc/nginx/templates/*.template with envsubst: the placeholders the
    # cluster fills in, from nginx's environment
    assert sources[SITE_TEMPLATE.resolve()].startswith("/etc/nginx/templates/")
    placeholders = set(re.findall(r"\$\{([A-Z0-9_]+)\}", SITE_TEMPLATE.read_text()))
    assert placeholders == set(nginx["environment"])
    # nginx in front of every node, on the node's port
    upstreams = re.findall(
        r"server ([\w.-]+):(\d+);", nginx["environment"]["PROXY_UPSTREAM_SERVERS"]
    )
    nodes = {
        name: cli(spec["command"]).port
        for name, spec in compose_agora_services().items()
        if spec["command"][1] == "serve"
    }
    assert {(host, int(port)) for host, port in upstreams} == set(nodes.items())
    # published on the host's loopback only, onto the port nginx listens on
    (published,) = nginx["ports"]
    host, _, container_port = published.split(":")
    assert (host, container_port) == ("127.0.0.1", nginx["environment"]["PROXY_LISTEN"])
    # the nodes believe X-Forwarded-* from nginx, and only from it
    nginx_address = nginx["networks"]["agora"]["ipv4_address"]
    for name in nodes:
        trusted = compose_agora_services()[name]["environment"]["AGORA_FORWARDED_ALLOW_IPS"]
        assert trusted == nginx_address, name


def site_directives(text: str) -> list[str]:
    """The lines of a configuration file without comments or blank lines."""
    return [
        line.split("#", 1)[0].strip() for line in text.splitlines() if line.split("#", 1)[0].strip()
    ]


def test_the_site_upgrades_websockets_round_robin_without_stickiness() -> None:
    directives = site_directives(
        render_site("127.0.0.1:8080", ["127.0.0.1:8001", "127.0.0.1:8002"])
    )
    assert "server 127.0.0.1:8001; server 127.0.0.1:8002;" in directives
    assert "proxy_http_version 1.1;" in directives
    assert "proxy_set_header Upgrade $http_upgrade;" in directives
    assert "proxy_set_header Connection $agora_connection;" in directives
    for header in ("X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host"):
        assert any(d.startswith(f"proxy_set_header {header} ") for d in directives), header
    # round robin is nginx's default: no directive may pin a client to a node
    for sticky in ("ip_hash", "hash ", "sticky", "least_conn", "random"):
        assert not any(d.startswith(sticky) for d in directives), sticky
    # the WebSocket's location is the gateway's route, and keeps a quiet connection open an hour
    sockets = set(WEBSOCKETS)
    text = "\n".join(directives)
    websocket = re.search(r"location (\S+) \{([^}]*)\}", text)
    assert websocket
    assert {websocket.group(1)} == sockets
    assert "proxy_read_timeout 1h;" in websocket.group(2)


def test_proxies_close_idle_connections_to_a_node_before_the_node_does() -> None:
    # else a request sent on a connection the node is closing at that moment fails
    node = manifest("Deployment", "agora-node")["spec"]["template"]["spec"]["containers"][0]
    assert cli(node["command"]).keep_alive_timeout > INGRESS_NGINX_UPSTREAM_KEEPALIVE_SECONDS
    site = render_site("127.0.0.1:8080", ["127.0.0.1:8001"])
    upstream = re.search(r"upstream agora_nodes \{([^}]*)\}", site)
    assert upstream
    idle = re.search(r"^\s*keepalive_timeout (\d+)s;", upstream.group(1), re.MULTILINE)
    assert idle
    for name, service in compose_agora_services().items():
        if service["command"][1] == "serve":
            assert int(idle.group(1)) < cli(service["command"]).keep_alive_timeout, name
    assert int(idle.group(1)) < cli(["agora", "serve"]).keep_alive_timeout  # make cluster's


def test_ingress_reaches_the_nodes_service_and_keeps_websockets_open() -> None:
    ingress = manifest("Ingress", "agora")
    annotations = ingress["metadata"]["annotations"]
    assert int(annotations["nginx.ingress.kubernetes.io/proxy-read-timeout"]) >= 3600
    assert not [a for a in annotations if "affinity" in a or "upstream-hash-by" in a]
    (rule,) = ingress["spec"]["rules"]
    backend = rule["http"]["paths"][0]["backend"]["service"]
    service = manifest("Service", backend["name"])
    (port,) = service["spec"]["ports"]
    assert backend["port"]["name"] == port["name"]
    node = manifest("Deployment", "agora-node")
    assert service["spec"]["selector"] == node["spec"]["selector"]["matchLabels"]
    # no stickiness at the Service either (kube-proxy's ClientIP affinity)
    assert service["spec"].get("sessionAffinity", "None") == "None"
    container_ports = {
        p["name"] for p in node["spec"]["template"]["spec"]["containers"][0]["ports"]
    }
    assert port["targetPort"] in container_ports


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    files = {path.name for path in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == files


@pytest.mark.skipif(nginx_binary() is None, reason="nginx is not installed")
def test_nginx_accepts_the_clusters_configuration(tmp_path: Path) -> None:
    binary = nginx_binary()
    assert binary is not None
    config = write_config(tmp_path, "127.0.0.1:8080", ["127.0.0.1:8001", "127.0.0.1:8002"])
    checked = check_config(binary, config)
    assert checked.returncode == 0, checked.stderr
    assert "test is successful" in checked.stderr
