"""returns-service migrate | serve | sweep | relay | token | demo | statistics rebuild"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from returns_service.config import get_settings


def _migrate(_args: argparse.Namespace) -> int:
    from returns_service.migrations import upgrade_to_head

    upgrade_to_head(get_settings().database_url)
    print("database is at the newest schema")
    return 0


def default_workers() -> int:
    """RETURNS_WORKERS, else one worker process per CPU."""
    return get_settings().workers or os.cpu_count() or 1


def _configure_logging(level: str | None = None) -> None:
    from returns_service.observability.logs import configure_logging

    configure_logging(level or get_settings().log_level)


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    # Before anything imports prometheus-client: its mode is chosen when it is imported.
    from returns_service.observability.metrics_directory import metrics_directory
    from returns_service.slow_clients import HeaderDeadlineHttpTools

    settings = get_settings()
    _configure_logging()
    with metrics_directory():
        uvicorn.run(
            "returns_service.serving:create_served_app",
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers or default_workers(),
            # uvicorn[standard]: uvloop's event loop and httptools' parser, both compiled; the
            # parser with a deadline on each request's headers (slow_clients).
            loop="uvloop",
            http=HeaderDeadlineHttpTools,
            proxy_headers=True,
            # Logging is ours (JSON lines, see observability.logs), the access line included.
            log_config=None,
            access_log=False,
            log_level=settings.log_level.lower(),
            timeout_graceful_shutdown=settings.shutdown_grace_seconds,
            timeout_keep_alive=settings.keep_alive_seconds,
        )
    return 0


def _sweep(_args: argparse.Namespace) -> int:
    import asyncio

    from returns_service.timers.sweep import sweep_once_with_settings

    _configure_logging()
    acted = asyncio.run(sweep_once_with_settings(get_settings()))
    print(f"acted on {acted} due deadlines")
    return 0


def _relay(args: argparse.Namespace) -> int:
    import asyncio

    from returns_service.relay.worker import run_relay_process

    settings = get_settings()
    _configure_logging()
    if args.metrics_port is not None:
        from returns_service.observability.metrics import serve_process_metrics

        serve_process_metrics(args.metrics_host, args.metrics_port)
    asyncio.run(run_relay_process(settings, once=args.once))
    return 0


def _token(args: argparse.Namespace) -> int:
    from returns_service.auth import Caller, issue_token
    from returns_service.rules.vocabulary import Role

    caller = Caller(Role(args.role), args.sub, args.shop)
    try:
        print(issue_token(caller, get_settings().jwt_secret, args.ttl))
    except ValueError as refusal:
        print(f"returns-service token: {refusal}", file=sys.stderr)
        return 2
    return 0


def _demo(_args: argparse.Namespace) -> int:
    import asyncio

    from returns_service.demo import DemoFailed, describe, fill_demo_shop

    _configure_logging("WARNING")  # the demo's own requests are not news
    try:
        report = asyncio.run(fill_demo_shop(get_settings()))
    except DemoFailed as failure:
        print(f"returns-service demo: the service refused a step: {failure}", file=sys.stderr)
        return 1
    print(describe(report))
    return 0


def _statistics_rebuild(args: argparse.Namespace) -> int:
    import asyncio

    from returns_service.db import create_engine, create_sessionmaker
    from returns_service.statistics.rebuild import rebuild_statistics

    async def rebuild() -> int:
        engine = create_engine(get_settings())
        try:
            async with create_sessionmaker(engine)() as session, session.begin():
                return await rebuild_statistics(session, args.shop_id)
        finally:
            await engine.dispose()

    written = asyncio.run(rebuild())
    print(f"statistics rebuilt from the rows: {written} cells")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="returns-service", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="upgrade the database to the newest schema").set_defaults(
        run=_migrate
    )
    serve = commands.add_parser("serve", help="serve the HTTP API")
    serve.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    serve.add_argument(
        "--workers",
        type=int,
        default=None,
        help="worker processes (default: RETURNS_WORKERS, else the number of CPUs)",
    )
    serve.set_defaults(run=_serve)
    commands.add_parser("sweep", help="act once on every due deadline").set_defaults(run=_sweep)
    relay = commands.add_parser(
        "relay", help="deliver outbound webhooks until SIGTERM (or one pass with --once)"
    )
    relay.add_argument("--once", action="store_true", help="one pass, then exit")
    relay.add_argument(
        "--metrics-port",
        type=int,
        help="serve this relay's counters (webhook deliveries) for Prometheus on this port",
    )
    relay.add_argument("--metrics-host", default="127.0.0.1", help="its address (127.0.0.1)")
    relay.set_defaults(run=_relay)
    token = commands.add_parser(
        "token", help="print a bearer token signed with RETURNS_JWT_SECRET (for trying the API)"
    )
    token.add_argument(
        "--role", required=True, choices=("buyer", "merchant", "platform", "storefront")
    )
    token.add_argument("--sub", required=True, help="the caller's id")
    token.add_argument("--shop", help="the merchant's shop id (required for merchants)")
    token.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds (3600)")
    token.set_defaults(run=_token)
    commands.add_parser(
        "demo", help="fill the database with a demo shop whose returns stand in every state"
    ).set_defaults(run=_demo)
    statistics = commands.add_parser("statistics", help="the rollups behind GET /v1/statistics")
    statistics_commands = statistics.add_subparsers(dest="statistics_command", required=True)
    rebuild = statistics_commands.add_parser(
        "rebuild", help="count the rollups again from the orders and returns"
    )
    rebuild.add_argument("--shop-id", default=None, help="one shop only (default: every shop)")
    rebuild.set_defaults(run=_statistics_rebuild)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
