"""The shop side by side: Agora's ``/api/shop`` and its peers under the shared shop harness.

The harness (``../shared/bench/shop``, or ``AGORA_SHOPBENCH_DIR``) is called, never copied. Its
``run.sh`` prepares the peers (django-oscar; Medusa when asked) and measures them; for Agora this
runner takes the harness's generated catalog (``run.sh gen``: 100,000 products, 300,000 variants,
500 categories), seeds a PostgreSQL database of its own through the shop's bulk path
(``bench/shop_seed.py``), starts one ``agora serve`` on PostgreSQL + Redis with production
settings, and drives it with the harness's own tools: wrk for the reads (S1-S4, and the app's
ceiling route ``/api/ping`` in the same run), ``shopload.py`` for the cart, the checkout and the
races, through our adapter (``bench/shop_adapter.py``). Then the peers, one after the other,
never two servers under load at once; every timed run under ``flock $PERF_LOCK``. The tables and
the issue's targets, PASS or MISS, go between the ``bench:shop`` markers of docs/performance.md.

``python -m bench.shop`` (``make bench-shop``); ``--smoke`` for a few seconds a scenario.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url
from tests.support.servers import LiveServer, ServerFailed, agora_server

from agora.migrations.runner import upgrade
from agora.platform.db import Database
from bench import report, shop_report, shop_seed
from bench.load import find_wrk
from bench.seed import container_for, recreate_database
from bench.server import shared_services_environment

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "docs" / "performance.md"
RESULTS = ROOT / "var" / "bench" / "shop"
DEFAULT_DATABASE_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/agora_shopbench"
DATABASE_PREFIX = "agora_shopbench"  # the only databases this runner drops
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/8"
PEERS = ("oscar",)  # Medusa: add it with --peers once its hour-long seed is done
NO_PEER = "none"  # a PEERS that names no peer: run.sh's setup then makes only the venvs
READS = ("s1", "s2", "s3p1", "s3deep", "s4")
FLOWS = ("S5", "S6")
RACES = ("R1", "R2")
CEILING = "ping"
DEEP_PAGE = 500
USERS = 32
POOL_SIZE = 40  # a connection for each of the 32 concurrent requests, and the jobs' drain
SMOKE = {"WARMUP": "1", "MEASURE": "3"}
FULL = {"WARMUP": "3", "MEASURE": "12"}  # the harness's defaults


def harness_dir() -> Path:
    return Path(os.environ.get("AGORA_SHOPBENCH_DIR", ROOT.parent / "shared" / "bench" / "shop"))


def work_dir() -> Path:
    return Path(os.environ.get("SHOPBENCH_WORK", Path(tempfile.gettempdir()) / "shopbench"))


def perf_lock() -> str:
    return os.environ.get("PERF_LOCK", str(Path(tempfile.gettempdir()) / "agora-perf.lock"))


def database_url() -> str:
    url = make_url(os.environ.get("AGORA_SHOPBENCH_DATABASE_URL", DEFAULT_DATABASE_URL))
    if not url.drivername.startswith("postgresql") or not (url.database or "").startswith(
        DATABASE_PREFIX
    ):
        raise SystemExit(
            f"bench: AGORA_SHOPBENCH_DATABASE_URL must name a PostgreSQL database whose name "
            f"starts with {DATABASE_PREFIX!r} (it is dropped and made again), not {url!r}"
        )
    return url.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)


def harness_environment(peers: Sequence[str], timing: Mapping[str, str]) -> dict[str, str]:
    return {
        **os.environ,
        **timing,
        "SHOPBENCH_WORK": str(work_dir()),
        "PERF_LOCK": perf_lock(),
        # never empty: run.sh takes an empty PEERS for all of them, and its setup drops and
        # makes again the database of each (a seeded peer lost, an hour for Medusa's)
        "PEERS": " ".join(peers) or NO_PEER,
    }


def run_harness(arguments: Sequence[str], environment: Mapping[str, str]) -> bool:
    """``run.sh ARGUMENTS``; False when it failed (the report says what is missing)."""
    command = [str(harness_dir() / "run.sh"), *arguments]
    status = subprocess.run(command, env=dict(environment), check=False).returncode
    if status:
        print(f"bench: `run.sh {' '.join(arguments)}` exited with {status}", file=sys.stderr)
    return status == 0


# --- Agora's database ---------------------------------------------------------------------------


async def _holds_catalog(url: str, data: Path) -> bool:
    """Whether the database holds the generated catalog's products and variants already."""
    meta = json.loads((data / "meta.json").read_text(encoding="utf-8"))
    wanted = (meta["products"], meta["products"] * meta["variants_per_product"])
    db = Database(url)
    try:
        return await shop_seed.seeded_counts(db) == wanted
    except Exception:  # no database or no schema yet: it holds nothing
        return False
    finally:
        await db.dispose()


async def _seed(url: str, data: Path) -> dict[str, Any]:
    db = Database(url)
    try:
        print(f"bench: seeding Agora's database from {data}", flush=True)
        return await shop_seed.seed(db, data)
    finally:
        await db.dispose()


def prepare_database(url: str, data: Path, *, reseed: bool) -> dict[str, Any] | None:
    """A database holding the catalog: made, migrated and seeded when asked or when it does
    not hold it (what the seed took); else what earlier runs left is cleared (None)."""
    if not reseed and asyncio.run(_holds_catalog(url, data)):
        asyncio.run(_clear_runs(url))
        return None
    asyncio.run(recreate_database(url, prefix=DATABASE_PREFIX))
    upgrade(url)
    return asyncio.run(_seed(url, data))


async def _clear_runs(url: str) -> None:
    """What earlier runs wrote, gone: orders, carts, keys, their jobs; no units reserved. Then
    the variants vacuumed, as after a seed: the reads measured next start from settled tables
    (no dead rows to skip or hint bits to set on first touch, no autovacuum of the table
    starting under the load)."""
    db = Database(url)
    try:
        async with db.engine.begin() as connection:
            await connection.execute(
                text(
                    "TRUNCATE shop_order_events, shop_order_lines, shop_orders, "
                    "shop_idempotency_keys, shop_cart_lines, shop_carts, outbox, processed_jobs"
                )
            )
            # only the rows a run reserved: rewriting all 300,000 left as many dead rows
            await connection.execute(
                text("UPDATE shop_variants SET stock_reserved = 0 WHERE stock_reserved <> 0")
            )
        async with db.engine.connect() as connection:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(text("VACUUM (ANALYZE) shop_variants"))
    finally:
        await db.dispose()


async def _refs(url: str, data: Path, secret: str) -> dict[str, Any]:
    container = container_for(url, jwt_secret=secret)
    try:
        db = container.platform.db
        tokens = [container.tokens.issue(id_) for id_ in await shop_seed.user_ids(db)]
        return await shop_seed.refs(db, data, tokens, DEEP_PAGE)
    finally:
        await container.close()


# --- Agora's server and the harness's load tools -----------------------------------------------


def server_environment(url: str, secret: str, redis_url: str) -> dict[str, str]:
    return shared_services_environment(
        url,
        secret,
        redis_url,
        bench="shopbench",
        AGORA_DATABASE_POOL_SIZE=str(POOL_SIZE),
        # one line per request, as in production (bench/server.py does the same)
        AGORA_ACCESS_LOG="true",
        AGORA_LOG_JSON="true",
    )


@contextmanager
def agora(url: str, secret: str, redis_url: str, log: Path, workers: int) -> Iterator[LiveServer]:
    try:
        with agora_server(
            server_environment(url, secret, redis_url), log, workers=workers
        ) as server:
            yield server
    except ServerFailed as failed:
        raise SystemExit(f"bench: {failed}") from None


class Driver:
    """The harness's load tools pointed at one Agora server."""

    def __init__(
        self, base: str, refs: Path, paths: Path, timing: Mapping[str, str], database_url: str
    ) -> None:
        self.base, self.refs, self.paths, self.timing = base, refs, paths, timing
        url = make_url(database_url)
        self.db_name = url.database or ""
        self.python = work_dir() / "venv-harness" / "bin" / "python"
        self.data = work_dir() / "data"
        self.env = {
            **os.environ,
            **timing,
            "AGORA_SHOPBENCH_LOAD": str(harness_dir() / "load"),
            # the races' psql
            "PGHOST": url.host or "127.0.0.1",
            "PGPORT": str(url.port or 5432),
            "PGUSER": url.username or "postgres",
        }

    def _shopload(self, *arguments: str) -> list[str]:
        base = [str(self.python), "-m", "bench.shop_adapter", arguments[0], "agora", self.base]
        return [*base, str(self.refs), str(self.data), *arguments[1:]]

    def _run(self, command: list[str], *, timed: bool) -> str:
        if timed:
            command = ["flock", perf_lock(), *command]
        done = subprocess.run(
            command, env=self.env, cwd=ROOT, capture_output=True, text=True, check=False
        )
        if done.returncode:
            raise RuntimeError(f"{' '.join(command[:6])} …: {done.stderr.strip()[-800:]}")
        return done.stdout

    def write_paths(self) -> None:
        self._run(
            self._shopload("paths", str(self.paths), "--deep-page", str(DEEP_PAGE)), timed=False
        )
        (self.paths / f"{CEILING}.txt").write_text("/api/ping\n", encoding="utf-8")

    def probe(self) -> dict[str, Any]:
        out = self._run(self._shopload("probe", "--deep-page", str(DEEP_PAGE)), timed=False)
        probed: dict[str, Any] = json.loads(out)
        return probed

    def read(self, scenario: str) -> dict[str, Any]:
        script = harness_dir() / "load" / "wrk_scenario.sh"
        headers = self.paths / "headers.txt"
        pathfile = self.paths / f"{scenario}.txt"
        label = f"agora {scenario}"
        command = [str(script), self.base, str(pathfile), str(headers), label]
        return _last_json(self._run(command, timed=True))

    def flow(self, scenario: str) -> dict[str, Any]:
        timing = ["--warmup", self.timing["WARMUP"], "--measure", self.timing["MEASURE"]]
        command = self._shopload(
            "flow", scenario, "--users", str(USERS), *timing, "--label", "agora"
        )
        return _last_json(self._run(command, timed=True))

    def race(self, check: str) -> dict[str, Any]:
        command = self._shopload("race", check, "--db", self.db_name, "--round", "1")
        return _last_json(self._run(command, timed=True))


def _last_json(output: str) -> dict[str, Any]:
    lines = [line for line in output.splitlines() if line.startswith("{")]
    if not lines:
        raise RuntimeError(f"no result in: {output[-500:]!r}")
    found: dict[str, Any] = json.loads(lines[-1])
    return found


def bench_agora(
    url: str, results: Path, timing: Mapping[str, str], redis_url: str, workers: int
) -> list[str]:
    """Every scenario against one fresh server; the runs that failed."""
    secret = secrets.token_urlsafe(48)
    failed: list[str] = []
    with tempfile.TemporaryDirectory(prefix="agora-shopbench-") as tmp:
        refs = Path(tmp) / "refs.json"  # it holds tokens: never kept
        refs.write_text(
            json.dumps(asyncio.run(_refs(url, work_dir() / "data", secret))), encoding="utf-8"
        )
        paths = Path(tmp) / "paths"
        with agora(url, secret, redis_url, results / "agora-server.log", workers) as server:
            driver = Driver(server.base_url, refs, paths, timing, url)
            driver.write_paths()
            (results / "agora-probe.json").write_text(json.dumps(driver.probe(), indent=1))
            runs: list[tuple[str, Any]] = [
                *((s, driver.read) for s in (CEILING, *READS)),
                *((s, driver.flow) for s in FLOWS),
                *((s, driver.race) for s in RACES),
            ]
            with (results / "agora.jsonl").open("w", encoding="utf-8") as out:
                for scenario, run in runs:
                    print(f"bench: agora {scenario}", flush=True)
                    try:
                        result = {"peer": "agora", "scenario": scenario, **run(scenario)}
                    except RuntimeError as error:
                        print(f"bench: agora {scenario} failed: {error}", file=sys.stderr)
                        failed.append(f"agora {scenario}")
                        continue
                    out.write(json.dumps(result) + "\n")
                    out.flush()
    return failed


# --- the peers ----------------------------------------------------------------------------------


def prepare_peers(peers: Sequence[str], timing: Mapping[str, str]) -> bool:
    """The harness's venvs and data, and each peer not seeded yet seeded (its first run: about
    15 minutes for Oscar). A seeded peer is left alone: the harness's setup would drop it."""
    work = work_dir()
    unseeded = [
        peer
        for peer in peers
        if not ((work / "refs" / f"{peer}.json").exists() and (work / "paths" / peer).is_dir())
    ]
    steps: list[tuple[str, Sequence[str]]] = []
    if unseeded or not (work / "venv-harness" / "bin" / "python").exists():
        steps.append(("setup", unseeded))
    if not (work / "data" / "meta.json").exists():
        steps.append(("gen", []))
    if unseeded:
        steps += [("seed", unseeded), ("paths", unseeded)]
    return all(run_harness([step], harness_environment(who, timing)) for step, who in steps)


def bench_peers(peers: Sequence[str], results: Path, timing: Mapping[str, str]) -> list[str]:
    failed = []
    for peer in peers:
        env = harness_environment([peer], timing)
        for step, number, name in (("matrix", "1", "run1"), ("races", "1", "races1")):
            if not run_harness([step, number], env):
                failed.append(f"{peer} {step}")
            produced = work_dir() / "results" / f"{name}.jsonl"
            if produced.exists():
                (results / f"{peer}-{step}.jsonl").write_text(produced.read_text())
    return failed


# --- main ---------------------------------------------------------------------------------------


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.shop", description=__doc__)
    parser.add_argument(
        "--peers", default=",".join(PEERS), help="comma list of the harness's peers ('' for none)"
    )
    parser.add_argument("--workers", type=int, default=1, help="agora serve --workers")
    parser.add_argument("--reseed", action="store_true", help="seed Agora's database again")
    parser.add_argument("--smoke", action="store_true", help="a few seconds a scenario")
    parser.add_argument("--output", type=Path, default=REPORT, help="report file")
    parser.add_argument("--no-report", action="store_true", help="print only; leave the report")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = _arguments(argv)
    if not (harness_dir() / "run.sh").exists():
        raise SystemExit(f"bench: no shop harness at {harness_dir()} (set AGORA_SHOPBENCH_DIR)")
    if find_wrk(install=True) is None:
        raise SystemExit("bench: wrk is needed (apt-get install wrk)")
    peers = [p for p in args.peers.split(",") if p]
    timing = SMOKE if args.smoke else FULL
    results = RESULTS / datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    results.mkdir(parents=True, exist_ok=True)
    if not prepare_peers(peers, timing):
        raise SystemExit("bench: the harness's preparation failed")
    url = database_url()
    seeded = prepare_database(url, work_dir() / "data", reseed=args.reseed)
    if seeded is not None:
        (results / "agora-seed.json").write_text(json.dumps(seeded))
    redis_url = os.environ.get("AGORA_BENCH_REDIS_URL", DEFAULT_REDIS_URL)
    failed = bench_agora(url, results, timing, redis_url, args.workers)
    failed += bench_peers(peers, results, timing)
    generated = shop_report.render(
        results, ROOT, smoke=args.smoke, failed=failed, workers=args.workers
    )
    print(generated)
    if not args.no_report:
        report.write(args.output, generated, begin=shop_report.BEGIN, end=shop_report.END)
        print(f"bench: shop results written to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
