"""``make bench``: seed a large blog, load one server worker with it, write the report.

A report, not a test: a missed target is printed clearly and the exit status stays 0. It fails
only when it cannot measure (no PostgreSQL, the server does not start, wrong answers).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from bench import report
from bench.dataset import Scale
from bench.load import AsyncioLoad, LoadGenerator, LoadResult, Request, find_wrk
from bench.scenarios import SCENARIOS, Scenario
from bench.seed import Fixture, container_for, database_url, existing, seed
from bench.server import Server, cpu_seconds, running_server

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "docs" / "performance.md"
SERVER_LOG = ROOT / "var" / "bench" / "server.log"


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--duration", type=float, default=12.0, help="seconds measured per scenario"
    )
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds of warm-up per scenario")
    parser.add_argument("--connections", type=int, default=32, help="concurrent connections")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--scale", type=float, default=1.0, help="data set size factor")
    parser.add_argument(
        "--reuse", action="store_true", help="keep the database of the last run instead of seeding"
    )
    parser.add_argument(
        "--only", default="", help="comma-separated scenario keys (the ceiling always runs)"
    )
    parser.add_argument(
        "--loadgen", choices=("auto", "wrk", "python"), default="auto", help="load generator"
    )
    parser.add_argument(
        "--output", type=Path, default=REPORT, help="report file (default docs/performance.md)"
    )
    parser.add_argument("--no-report", action="store_true", help="print only; leave the report")
    return parser.parse_args(argv)


def _load_generator(choice: str) -> LoadGenerator:
    if choice == "python":
        return AsyncioLoad()
    wrk = find_wrk(install=True)
    if wrk is not None:
        return wrk
    if choice == "wrk":
        raise SystemExit("bench: wrk is not installed (Debian: apt-get install wrk)")
    print("bench: wrk not found; falling back to the asyncio load generator (less accurate)")
    return AsyncioLoad()


def _request(scenario: Scenario, workdir: Path) -> Request:
    return Request(
        method=scenario.method,
        path=scenario.path,
        tokens_file=workdir / "tokens.txt" if scenario.signed_in else None,
        slugs_file=workdir / "slugs.txt" if scenario.rotates_slugs else None,
        body=scenario.body,
        pairs_file=workdir / f"pairs-{scenario.pairs}.txt" if scenario.pairs else None,
    )


# more (user, article) pairs of each kind than a scenario can use up: none repeats
PAIRS_WANTED = 200_000


def _pairs(fixture: Fixture) -> dict[str, list[tuple[int, str]]]:
    """(line of the tokens file, slug) pairs, shuffled: the ``favorited`` ones of the database,
    and as many ``new`` ones, drawn at random among those that are not."""
    rng = random.Random(len(fixture.favorites))
    line_of = {user_id: line for line, user_id in enumerate(fixture.user_ids, start=1)}
    favorited = [(line_of[user_id], slug) for user_id, slug in fixture.favorites]
    rng.shuffle(favorited)
    taken = set(fixture.favorites)
    new: list[tuple[int, str]] = []
    while len(new) < min(PAIRS_WANTED, len(fixture.user_ids) * len(fixture.slugs) - len(taken)):
        pair = (rng.choice(fixture.user_ids), rng.choice(fixture.slugs))
        if pair not in taken:
            taken.add(pair)
            new.append((line_of[pair[0]], pair[1]))
    return {"favorited": favorited, "new": new}


def _preflight(server: Server, scenario: Scenario, token: str, slug: str) -> None:
    """One request by hand first: a benchmark of 401s or 404s would measure nothing useful."""
    headers = {"Content-Type": "application/json"}
    if scenario.signed_in:
        headers["Authorization"] = f"Token {token}"
    call = urllib.request.Request(  # noqa: S310 — a loopback URL built here
        server.base_url + scenario.path.replace("{slug}", slug),
        method=scenario.method,
        data=scenario.body.encode() if scenario.body else None,
        headers=headers,
    )
    try:
        with urllib.request.urlopen(call, timeout=10) as response:  # noqa: S310
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    if status != scenario.expected_status:
        raise SystemExit(
            f"bench: {scenario.label} answered {status}, expected {scenario.expected_status}; "
            f"see {server.log_path}"
        )


def _context(
    generator: LoadGenerator, args: argparse.Namespace, fixture: Fixture, minutes: str
) -> list[str]:
    commit = subprocess.run(
        ["git", "-C", str(ROOT), "describe", "--always", "--dirty=+local changes"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    tool = generator.describe()
    seeded = (
        f"seeded in {fixture.seed_seconds:.0f} s"
        if fixture.seed_seconds is not None
        else "database reused from an earlier run"
    )
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    return [
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on `{commit or 'unknown'}`, "
        f"Python {platform.python_version()}, {_cpu()}; whole run {minutes}; "
        f"load average at the end {load} (anything above ~1 means other programs shared the "
        f"cores: requests/s suffer, CPU per request much less).",
        f"Load: {tool}, {args.connections} connections, {args.threads} threads, "
        f"{args.warmup:g} s warm-up then {args.duration:g} s measured per scenario; "
        f"one server worker; {seeded}.",
    ]


def _measure(
    generator: LoadGenerator, server: Server, request: Request, args: argparse.Namespace
) -> LoadResult:
    options = {"connections": args.connections, "threads": args.threads}
    if args.warmup > 0:
        generator.run(server.base_url, request, seconds=args.warmup, **options)
    before = cpu_seconds(server.pid)
    result = generator.run(server.base_url, request, seconds=args.duration, **options)
    after = cpu_seconds(server.pid)
    if before is None or after is None or not result.requests:
        return result
    return dataclasses.replace(result, server_cpu_ms=(after - before) * 1000 / result.requests)


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cores = Path("/proc/cpuinfo").read_text().count("processor\t:")
                return f"{cores} × {line.split(':', 1)[1].strip()}"
    except OSError:
        pass
    return platform.machine()


def main(argv: list[str] | None = None) -> int:
    started = time.perf_counter()
    args = _arguments(argv)
    only = {key for key in args.only.split(",") if key}
    unknown = only - {scenario.key for scenario in SCENARIOS}
    if unknown:
        raise SystemExit(f"bench: unknown scenarios {sorted(unknown)}")
    scenarios = [s for s in SCENARIOS if s.ceiling or not only or s.key in only]
    generator = _load_generator(args.loadgen)
    url = database_url()

    if args.reuse:
        fixture = asyncio.run(existing(url))
        print(f"bench: reusing {url.rsplit('/', 1)[-1]} ({fixture.counts['articles']:,} articles)")
    else:
        print(f"bench: seeding {url.rsplit('/', 1)[-1]} ...", flush=True)
        fixture = asyncio.run(seed(url, Scale().times(args.scale)))
        counts = ", ".join(f"{n:,} {table}" for table, n in fixture.counts.items())
        print(f"bench: seeded in {fixture.seed_seconds:.1f} s: {counts}")

    outcomes: list[report.Outcome] = []
    ceiling: LoadResult | None = None
    with (
        tempfile.TemporaryDirectory(prefix="agora-bench-") as tmp,
        running_server(url, SERVER_LOG, pool_size=args.connections) as server,
    ):
        workdir = Path(tmp)
        container = container_for(url, jwt_secret=server.jwt_secret)
        tokens = [container.tokens.issue(user_id) for user_id in fixture.user_ids]
        asyncio.run(container.close())
        (workdir / "tokens.txt").write_text("\n".join(tokens) + "\n")
        (workdir / "slugs.txt").write_text("\n".join(fixture.slugs) + "\n")
        pairs = _pairs(fixture)
        for kind, chosen in pairs.items():
            lines = "".join(f"{line} {slug}\n" for line, slug in chosen)
            (workdir / f"pairs-{kind}.txt").write_text(lines)
        print(
            f"bench: server at {server.base_url} (log: {server.log_path}); load by {generator.name}"
        )

        for scenario in scenarios:
            token, slug = tokens[0], fixture.slugs[0]
            if scenario.pairs:  # the last pair: the load reaches it last, if ever
                line, slug = pairs[scenario.pairs][-1]
                token = tokens[line - 1]
            _preflight(server, scenario, token, slug)
            result = _measure(generator, server, _request(scenario, workdir), args)
            if scenario.ceiling:
                ceiling = result
            outcome = report.evaluate(scenario, result, ceiling)
            outcomes.append(outcome)
            share = f"{outcome.share:5.0%}" if outcome.share is not None else " 100%"
            print(
                f"  {scenario.label:<48} {result.rps:8,.0f} req/s  p50 {result.p50_ms:6.1f} ms  "
                f"p99 {result.p99_ms:6.1f} ms  errors {result.errors:<4} "
                f"cpu {result.server_cpu_ms or 0:5.2f} ms/req  {share}  "
                f"{outcome.verdict}",
                flush=True,
            )

    elapsed = time.perf_counter() - started
    minutes = f"{elapsed // 60:.0f} min {elapsed % 60:.0f} s"
    summary = report.summary_line(outcomes)
    print(f"bench: {summary}")
    if not args.no_report:
        generated = report.render(
            outcomes,
            context=_context(generator, args, fixture, minutes),
            dataset=fixture.counts,
        )
        report.write(args.output, generated)
        print(f"bench: results written to {args.output}")
    print(f"bench: finished in {minutes} (a report, not a test: the exit status is 0 on a miss)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
