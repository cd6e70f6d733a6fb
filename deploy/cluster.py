"""``make cluster``: two ``agora serve`` nodes behind nginx, on this machine's loopback.

The nodes share one PostgreSQL and one Redis (``AGORA_DATABASE_URL``, ``AGORA_REDIS_URL``);
nginx spreads requests and WebSockets over them round robin, with no stickiness, from the same
site file as ``deploy/compose.yaml`` (``deploy/nginx/agora.conf.template``). nginx runs in the
foreground with a configuration of its own under ``var/cluster/nginx/``, not as the system
service. With ``AGORA_BROKER_URL`` an ``agora worker`` runs the jobs the nodes relay to RabbitMQ.
Ctrl-C or SIGTERM stops everything.

The tests start the same pieces on free ports: ``nginx_proxy`` in front of any nodes, ``cluster``
for nodes and proxy together.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit

from sqlalchemy.engine import make_url
from tests.support.database import ensure_database
from tests.support.jobs import Worker, worker_process
from tests.support.servers import (
    HOST,
    POLL_INTERVAL,
    READY_TIMEOUT,
    LiveServer,
    ServerFailed,
    agora_command,
    agora_server,
    file_tail,
    free_port,
)

ROOT = Path(__file__).resolve().parent.parent
SITE_TEMPLATE = ROOT / "deploy" / "nginx" / "agora.conf.template"
DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/agora_cluster"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
STOP_TIMEOUT = 10.0  # seconds for nginx to exit after SIGTERM (it closes its connections at once)

_PLACEHOLDER = re.compile(r"\$\{([A-Z0-9_]+)\}")


def render_site(listen: str, upstreams: Sequence[str]) -> str:
    """The shared site file for nginx listening on ``listen``, in front of ``upstreams``
    ("host:port"), filled in as the nginx image's envsubst does (``${NAME}`` only)."""
    values = {
        "PROXY_LISTEN": listen,
        "PROXY_UPSTREAM_SERVERS": " ".join(f"server {address};" for address in upstreams),
    }

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise ValueError(f"{SITE_TEMPLATE} uses ${{{name}}}, which the cluster does not set")
        return values[name]

    return _PLACEHOLDER.sub(fill, SITE_TEMPLATE.read_text(encoding="utf-8"))


def main_config(directory: Path) -> str:
    """nginx's own configuration: in the foreground, every file it writes under ``directory``
    (Debian's build would put them under /var), the site file beside it."""
    return f"""# written by deploy/cluster.py: nginx for `make cluster`, its files in this directory
daemon off;
worker_processes 1;
pid {directory}/nginx.pid;
error_log {directory}/error.log notice;

events {{
    worker_connections 4096;
}}

http {{
    # which node answered each request: the round robin at work
    log_format agora '$remote_addr [$time_local] "$request" $status $body_bytes_sent '
                     'upstream=$upstream_addr request_time=$request_time';
    access_log {directory}/access.log agora;
    client_body_temp_path {directory}/temp/body;
    proxy_temp_path {directory}/temp/proxy;
    fastcgi_temp_path {directory}/temp/fastcgi;
    uwsgi_temp_path {directory}/temp/uwsgi;
    scgi_temp_path {directory}/temp/scgi;
    include {directory}/agora.conf;
}}
"""


def nginx_binary() -> str | None:
    # Debian puts it in /usr/sbin, which a user's PATH may lack
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")


def write_config(directory: Path, listen: str, upstreams: Sequence[str]) -> Path:
    """nginx's configuration for ``upstreams`` under ``directory``; the main file's path."""
    directory = directory.resolve()
    (directory / "temp").mkdir(parents=True, exist_ok=True)
    (directory / "agora.conf").write_text(render_site(listen, upstreams), encoding="utf-8")
    config = directory / "nginx.conf"
    config.write_text(main_config(directory), encoding="utf-8")
    return config


def nginx_arguments(binary: str, config: Path) -> list[str]:
    return [binary, "-p", f"{config.parent}/", "-c", str(config)]


def check_config(binary: str, config: Path) -> subprocess.CompletedProcess[str]:
    """``nginx -t`` on ``config``: its status and what it said."""
    return subprocess.run(
        [*nginx_arguments(binary, config), "-t"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


@dataclass
class Proxy:
    process: subprocess.Popen[bytes]
    host: str
    port: int
    directory: Path

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def log_tail(self) -> str:
        return "\n".join(
            f"--- last lines of {self.directory / name} ---\n{file_tail(self.directory / name, 40)}"
            for name in ("nginx.out", "error.log")
        )

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        """Until nginx accepts connections on its port; fails if it exits first."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerFailed(
                    f"nginx exited with {self.process.returncode} while starting\n{self.log_tail()}"
                )
            try:
                with socket.create_connection((self.host, self.port), timeout=1.0):
                    return
            except OSError:
                time.sleep(POLL_INTERVAL)  # polling a condition, bounded by the deadline
        raise ServerFailed(f"nginx did not listen within {timeout:.0f} s\n{self.log_tail()}")

    def stop(self) -> None:
        # SIGTERM: a fast stop; a graceful one (SIGQUIT) would wait for every WebSocket to end
        if self.process.poll() is None:
            self.process.terminate()
        try:
            self.process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@contextmanager
def nginx_proxy(
    upstreams: Sequence[str], directory: Path, *, port: int | None = None
) -> Iterator[Proxy]:
    """nginx on ``port`` of 127.0.0.1 (a free one when None) in front of ``upstreams``
    ("host:port"), its files under ``directory``; yields once it listens, stops it on exit."""
    binary = nginx_binary()
    if binary is None:
        raise ServerFailed("nginx is not installed (deploy/install-nginx.sh installs Debian's)")
    port = port or free_port()
    config = write_config(directory, f"{HOST}:{port}", upstreams)
    checked = check_config(binary, config)
    if checked.returncode != 0:
        raise ServerFailed(f"nginx refused {config}:\n{checked.stderr}")
    with (config.parent / "nginx.out").open("wb") as output:
        process = subprocess.Popen(
            nginx_arguments(binary, config), stdout=output, stderr=subprocess.STDOUT
        )
    proxy = Proxy(process=process, host=HOST, port=port, directory=config.parent)
    try:
        proxy.wait_ready()
        yield proxy
    finally:
        proxy.stop()


@dataclass
class Cluster:
    nodes: list[LiveServer]
    proxy: Proxy
    worker: Worker | None = None


@contextmanager
def cluster(
    environment: Mapping[str, str],
    directory: Path,
    *,
    node_ports: Sequence[int | None] = (None, None),
    proxy_port: int | None = None,
    worker: bool = False,
) -> Iterator[Cluster]:
    """A node per entry of ``node_ports`` (a free port for None) with exactly ``environment``,
    nginx in front of them, and with ``worker`` an ``agora worker`` (with a broker, the nodes
    only relay the jobs: a worker runs them); logs under ``directory``. On exit the nodes get
    SIGTERM first, while nginx still passes their close codes (1012) on to WebSocket clients,
    then nginx stops (see ``agora_server`` and ``worker_process``)."""
    ports = [port or free_port() for port in node_ports]
    with ExitStack() as stack:
        proxy = stack.enter_context(
            nginx_proxy([f"{HOST}:{port}" for port in ports], directory / "nginx", port=proxy_port)
        )
        jobs = (
            stack.enter_context(
                worker_process(
                    environment, directory / "worker.log", command=agora_command("worker")
                )
            )
            if worker
            else None
        )
        nodes = [
            stack.enter_context(
                agora_server(environment, directory / f"node-{number}.log", port=port)
            )
            for number, port in enumerate(ports, start=1)
        ]
        yield Cluster(nodes=nodes, proxy=proxy, worker=jobs)


# --- make cluster --------------------------------------------------------------------------------


def cluster_environment(directory: Path) -> dict[str, str]:
    """This process's environment, with the cluster's defaults where ``AGORA_*`` leaves a gap."""
    environment = dict(os.environ)
    environment.setdefault("AGORA_DATABASE_URL", DEFAULT_DATABASE_URL)
    environment.setdefault("AGORA_REDIS_URL", DEFAULT_REDIS_URL)
    # nginx connects from 127.0.0.1: its X-Forwarded-* are believed (the setting's default too)
    environment.setdefault("AGORA_FORWARDED_ALLOW_IPS", HOST)
    # one media directory for both nodes: an avatar stored through one is served by the other
    environment.setdefault("AGORA_MEDIA_DIR", str(directory / "media"))
    return environment


def _prepare(environment: Mapping[str, str]) -> None:
    url = environment["AGORA_DATABASE_URL"]
    if make_url(url).get_backend_name() != "postgresql":
        sys.exit(f"cluster: AGORA_DATABASE_URL must name PostgreSQL (the nodes share it): {url}")
    if ensure_database(url):
        print(f"cluster: created the database {make_url(url).database}")
    for step in (("migrate",), ("seed", "--if-empty")):
        subprocess.run(agora_command(*step), env=dict(environment), check=True, timeout=300)


class _Stop(Exception):
    pass


def _stop(_signum: int, _frame: FrameType | None) -> None:
    raise _Stop


def _print_addresses(running: Cluster, environment: Mapping[str, str]) -> None:
    url = running.proxy.base_url
    database = make_url(environment["AGORA_DATABASE_URL"]).render_as_string(hide_password=True)
    jobs = (
        f"agora worker on {urlsplit(environment['AGORA_BROKER_URL']).hostname}, log "
        f"{running.worker.log_path}"
        if running.worker
        else "run by the nodes (set AGORA_BROKER_URL for RabbitMQ and an agora worker)"
    )
    lines = [
        "",
        f"  Agora cluster: {len(running.nodes)} nodes behind nginx (round robin, no stickiness)",
        f"    nginx         {url}   API docs {url}/docs",
        f"    chat          ws://{running.proxy.host}:{running.proxy.port}/api/chat/ws",
        *(
            f"    node {number}        {node.base_url}   log {node.log_path}"
            for number, node in enumerate(running.nodes, start=1)
        ),
        f"    PostgreSQL    {database}",
        f"    Redis         {environment['AGORA_REDIS_URL']}",
        f"    jobs          {jobs}",
        f"    nginx files   {running.proxy.directory} (access.log names the node of each request)",
        "    demo login    jake@example.com / password123",
        "",
        "  Ctrl-C stops everything.",
        "",
    ]
    print("\n".join(lines), flush=True)


def _supervise(running: Cluster) -> int:
    """Until a process dies (1); a signal ends it sooner, by its exception."""
    while True:
        time.sleep(1.0)  # a supervisor's round: is every process still running?
        for number, node in enumerate(running.nodes, start=1):
            if node.process.poll() is not None:
                print(f"cluster: node {number} exited\n{node.log_tail()}", file=sys.stderr)
                return 1
        if running.worker and running.worker.process.poll() is not None:
            print(f"cluster: the worker exited\n{running.worker.log_tail()}", file=sys.stderr)
            return 1
        if running.proxy.process.poll() is not None:
            print(f"cluster: nginx exited\n{running.proxy.log_tail()}", file=sys.stderr)
            return 1


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.cluster",
        description="Agora nodes behind nginx on 127.0.0.1, one PostgreSQL and one Redis "
        "(AGORA_DATABASE_URL, AGORA_REDIS_URL); Ctrl-C stops everything.",
    )
    parser.add_argument("--nodes", type=int, default=2, help="agora serve nodes (default 2)")
    parser.add_argument(
        "--node-port", type=int, default=8001, help="first node's port; the next count up (8001)"
    )
    parser.add_argument("--port", type=int, default=8080, help="nginx's port (default 8080)")
    parser.add_argument(
        "--directory", type=Path, default=ROOT / "var" / "cluster", help="logs and nginx's files"
    )
    args = parser.parse_args(argv)
    directory: Path = args.directory.resolve()
    environment = cluster_environment(directory)
    _prepare(environment)
    # both, explicitly: a launcher started in the background inherits SIGINT ignored
    for stop_signal in (signal.SIGINT, signal.SIGTERM):
        signal.signal(stop_signal, _stop)
    ports = [args.node_port + offset for offset in range(args.nodes)]
    try:
        with cluster(
            environment,
            directory,
            node_ports=ports,
            proxy_port=args.port,
            worker=bool(environment.get("AGORA_BROKER_URL")),
        ) as running:
            _print_addresses(running, environment)
            status = _supervise(running)
            print("cluster: stopping the nodes and nginx", flush=True)
            return status
    except _Stop:
        print("cluster: stopped", flush=True)
        return 0


if __name__ == "__main__":
    sys.exit(main())
