"""`make bench`: the request path against its SQL floor, in one command.

1. The floor: pgbench, 64 clients, one bare transition (../shared/floor) on its own database.
2. The service on PostgreSQL over real HTTP: `returns-service serve --workers N` in its own
   process, loaded by wrk (compiled; and the server's CPU is read from the server's own
   processes in /proc, so the load generator's CPU never counts):
   - SQL statements per approve and per GET, counted from PostgreSQL's statement log
     (`log_statement = all` on the bench database, one worker, after a warm-up);
   - server CPU per approve and per GET, approvals/s and p99 at 64 connections, peak RSS;
   - first-page p99 of every documented list shape at 10k and at 1M returns, and its plan;
   - the deadline sweep in one process: due deadlines acted on per second.
Every figure is printed beside its target and, where one exists, the floor's figure.
Exits 1 when a target is missed. Needs PostgreSQL on 127.0.0.1 (superuser, for the log
setting and pgbench's database), `pgbench`, `psql` and `wrk` (apt install wrk).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from dataclasses import dataclass, field

import httpx
from tests.api.scenario import TEST_JWT_SECRET, token

from bench.floor import Floor, run_floor
from bench.lists import PAGE, SHAPES, explain, walks_an_index
from bench.load import approve_script, get_script, path_script, run_wrk, wrk_available
from bench.pg import DATABASE_PREFIX, StatementLog, drop_database, psql, recreate_database
from bench.seed import ADDRESS, SHOP, seed_policy, seed_returns
from bench.server import serve
from bench.sweep import run_sweep
from returns_service.migrations import upgrade_to_head

DATABASE = DATABASE_PREFIX
LISTS_DATABASE = f"{DATABASE_PREFIX}_lists"
SHOPS = 10
RETURNS_PER_BUYER = 100


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)
    missed: list[str] = field(default_factory=list)

    def figure(
        self, name: str, value: float, unit: str, target: str, met: bool, floor: str = ""
    ) -> None:
        verdict = "ok" if met else "MISSED"
        if not met:
            self.missed.append(name)
        line = f"{name:38} {value:10.2f} {unit:8} target {target:14} {verdict:6} {floor}"
        self.lines.append(line.rstrip())
        print(line.rstrip(), flush=True)

    def note(self, text: str) -> None:
        self.lines.append(text)
        print(text, flush=True)


def merchant_token() -> str:
    return token("merchant", "bench-merchant", SHOP, ttl=24 * 3600)


def count_statements(url: str, report: Report) -> None:
    """Statements per approve and per GET, from PostgreSQL's own log, one worker."""
    log = StatementLog(DATABASE)
    log.switch_on()
    headers = {"Authorization": f"Bearer {merchant_token()}"}
    body = {"return_address": ADDRESS}
    samples = 40
    try:
        with (
            serve(url, TEST_JWT_SECRET, workers=1) as server,
            httpx.Client(base_url=server.url, headers=headers, timeout=30) as client,
        ):
            for n in range(1, 21):  # warm-up: connections, prepared statements, caches
                client.post(f"/v1/returns/c1-{n}/approve", json=body).raise_for_status()
                client.get(f"/v1/returns/c1-{n}").raise_for_status()
            log.start()
            for n in range(21, 21 + samples):
                client.post(f"/v1/returns/c1-{n}/approve", json=body).raise_for_status()
            time.sleep(0.5)  # the log is written asynchronously
            approve_lines = log.lines()
            log.start()
            for n in range(21, 21 + samples):
                client.get(f"/v1/returns/c1-{n}").raise_for_status()
            time.sleep(0.5)
            get_lines = log.lines()
    finally:
        log.switch_off()
    per_approve = len(approve_lines) / samples
    per_get = len(get_lines) / samples
    report.figure(
        "SQL statements per approve", per_approve, "stmts", "≤ 7", per_approve <= 7, "floor: 6"
    )
    report.figure("SQL statements per GET", per_get, "stmts", "≤ 3", per_get <= 3)
    for title, lines in (("approve", approve_lines), ("GET", get_lines)):
        report.note(f"  one {title}:")
        for line in lines[: len(lines) // samples]:
            report.note(f"    {line[:110]}")


def run_service(url: str, floor: Floor, args: argparse.Namespace, report: Report) -> None:
    token_ = merchant_token()
    with serve(url, TEST_JWT_SECRET, workers=args.workers) as server:
        warm = run_wrk(server.url, get_script(token_, "a", 2, 1000), connections=8, seconds=3)
        assert warm.ok > 0, warm
        cpu = server.cpu_seconds()
        approve = run_wrk(
            server.url,
            approve_script(token_, "a", {"return_address": ADDRESS}),
            connections=64,
            seconds=args.seconds,
        )
        approve_cpu = server.cpu_seconds() - cpu
        cpu = server.cpu_seconds()
        get = run_wrk(
            server.url,
            get_script(token_, "a", 2, min(approve.ok // 2, args.approvals)),
            connections=64,
            seconds=args.seconds,
        )
        get_cpu = server.cpu_seconds() - cpu
        rss = server.peak_rss_mb()
    report.note(
        f"approve: {approve.requests} requests, {approve.non_2xx} not 2xx {approve.errors}; "
        f"GET: {get.requests} requests, {get.non_2xx} not 2xx {get.errors}"
    )
    per_approve = 1000 * approve_cpu / max(approve.ok, 1)
    per_get = 1000 * get_cpu / max(get.ok, 1)
    report.figure("server CPU per approve", per_approve, "ms", "≤ 2.5 ms", per_approve <= 2.5)
    report.figure("server CPU per GET", per_get, "ms", "≤ 1.2 ms", per_get <= 1.2)
    rate = approve.ok_per_second
    share = rate / floor.tps
    report.figure(
        "approvals/s at 64 connections",
        rate,
        "/s",
        "≥ 15% floor",
        share >= 0.15,
        f"floor {floor.tps:.0f} TPS: {100 * share:.1f}%",
    )
    ratio = approve.p99_ms / floor.p99_ms
    report.figure(
        "approve p99 at 64 connections",
        approve.p99_ms,
        "ms",
        "≤ 10× floor",
        ratio <= 10,
        f"floor p99 {floor.p99_ms:.1f} ms: {ratio:.1f}×",
    )
    report.figure(
        "GETs/s at 64 connections",
        get.ok_per_second,
        "/s",
        "(printed)",
        True,
        f"p99 {get.p99_ms:.1f} ms",
    )
    report.figure(
        "peak RSS per worker (max)",
        max(rss),
        "MB",
        "≤ 150 MB",
        max(rss) <= 150,
        f"workers: {', '.join(f'{r:.0f}' for r in rss)}",
    )


def run_lists(report: Report, seconds: int) -> None:
    """Each list shape's first page at 10k and at 1M returns: two databases, two servers,
    measured one right after the other per shape, so that the machine's load (which this
    two-core box shares) falls on both alike."""
    sizes = {10_000: f"{LISTS_DATABASE}_10k", 1_000_000: f"{LISTS_DATABASE}_1m"}
    shops = [SHOP, *(f"{SHOP}-{n}" for n in range(1, SHOPS))]
    urls = {}
    p99: dict[tuple[str, int], float] = {}
    plans: dict[str, str] = {}
    try:
        for size, database in sizes.items():
            started = time.perf_counter()
            urls[size] = recreate_database(database)
            upgrade_to_head(urls[size])
            seed_policy(database, shops)
            # A hundred returns per buyer at both sizes: every shape's first page is full (at
            # 10k with the default 5,000 buyers, a buyer's page held two returns).
            seed_returns(
                database,
                prefix="l",
                first=1,
                count=size,
                shops=SHOPS,
                buyers=size // RETURNS_PER_BUYER,
                requested_only=False,
            )
            # As a live table is: vacuumed (hint bits and the visibility map set) and on disk.
            # Fresh from the seed, the first shape measured paid for setting them on every
            # row it read (once 4.6x slower at 1M than at 10k; the others about 1x).
            psql("VACUUM ANALYZE; CHECKPOINT;", database)
            report.note(f"  seeded {size} returns in {time.perf_counter() - started:.0f} s")
        with (
            serve(urls[10_000], TEST_JWT_SECRET, workers=1) as small,
            serve(urls[1_000_000], TEST_JWT_SECRET, workers=1) as large,
        ):
            for shape in SHAPES:
                bearer = token(shape.role, shape.sub, shape.shop_id, ttl=3600)
                path = f"/v1/returns?limit={PAGE}" + (f"&{shape.query}" if shape.query else "")
                for size, server in ((10_000, small), (1_000_000, large)):
                    result = run_wrk(
                        server.url,
                        path_script(bearer, path),
                        connections=1,
                        threads=1,
                        seconds=seconds,
                    )
                    assert result.non_2xx == 0, result
                    p99[(shape.name, size)] = result.p99_ms
                plans[shape.name] = explain(urls[1_000_000], shape)
    finally:
        for database in sizes.values():
            drop_database(database)
    for shape in SHAPES:
        small_p99, large_p99 = p99[(shape.name, 10_000)], p99[(shape.name, 1_000_000)]
        plan = plans[shape.name]
        ratio = large_p99 / small_p99
        report.figure(
            f"list {shape.name}: p99 1M / 10k",
            ratio,
            "×",
            "≤ 1.5×",
            ratio <= 1.5,
            f"{small_p99:.1f} ms → {large_p99:.1f} ms",
        )
        walks = walks_an_index(plan)
        report.figure(
            f"list {shape.name}: index walk, no sort",
            float(walks),
            "",
            "1 (yes)",
            walks,
            " ".join(plan.splitlines()[1].split()[:6]) if len(plan.splitlines()) > 1 else plan,
        )
        report.note("    " + "\n    ".join(line.rstrip() for line in plan.splitlines()[:4]))


def run_sweep_bench(url: str, args: argparse.Namespace, report: Report) -> None:
    seed_returns(DATABASE, prefix="s-", first=1, count=args.due, due_in="-1 hour")
    acted, seconds, cpu, policy_reads = asyncio.run(run_sweep(url))
    rate = acted / seconds
    report.figure(
        "sweep: due deadlines acted on/s",
        rate,
        "/s",
        "≥ 1000/s",
        rate >= 1000,
        f"{acted} in {seconds:.1f} s, {policy_reads} policy reads",
    )
    per_row = 1000 * cpu / max(acted, 1)
    report.figure(
        "sweep: CPU per deadline (one process)",
        per_row,
        "ms",
        "≤ 1 ms",
        per_row <= 1,
        f"{1000 / per_row:.0f}/s if it had a core to itself",
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument("--seconds", type=int, default=15, help="each timed run")
    parser.add_argument("--approvals", type=int, default=30_000, help="seeded per wrk thread")
    parser.add_argument("--due", type=int, default=5_000, help="due deadlines for the sweep")
    parser.add_argument("--skip-lists", action="store_true", help="skip the 1M-row list run")
    parser.add_argument("--skip-sweep", action="store_true", help="skip the sweep run")
    parser.add_argument("--only-lists", action="store_true", help="only the list run")
    args = parser.parse_args()
    # Stopped from outside: still stop the servers and drop the databases (the finally blocks).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if not wrk_available():
        print("make bench needs wrk: apt-get install wrk", file=sys.stderr)
        return 2
    report = Report()
    if args.only_lists:
        run_lists(report, seconds=5)
        return 1 if report.missed else 0
    print("floor: pgbench, 64 clients ...", flush=True)
    floor = run_floor(seconds=args.seconds)
    report.note(
        f"floor (pgbench -c 64, {floor.seconds} s): {floor.tps:.0f} TPS, "
        f"mean {floor.mean_ms:.1f} ms, p99 {floor.p99_ms:.1f} ms"
    )
    url = recreate_database(DATABASE)
    try:
        upgrade_to_head(url)
        seed_policy(DATABASE, [SHOP])
        seed_returns(DATABASE, prefix="c1-", first=1, count=100)
        for thread in (1, 2):
            seed_returns(DATABASE, prefix=f"a{thread}-", first=1, count=args.approvals)
        count_statements(url, report)
        run_service(url, floor, args, report)
        if not args.skip_sweep:
            run_sweep_bench(url, args, report)
    finally:
        drop_database(DATABASE)
    if not args.skip_lists:
        run_lists(report, seconds=5)
    print("\n".join(["", "summary:", *report.lines]))
    if report.missed:
        print(f"missed: {', '.join(report.missed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
