"""`python -m demo`, run by `make demo` once the services are up: a season of a Québec theatre through the running
platform, and a summary of what it made of it. Every address can be changed, to run it against another fleet."""

import argparse
import asyncio
import sys
from collections.abc import Sequence

from demo.credentials import CredentialError
from demo.drain import DrainTimeoutError
from demo.run import DemoConfig, DemoError, print_progress_note, run_demo
from demo.send import SendError
from shared.settings import ServiceSettings


def main(argv: Sequence[str] | None = None) -> int:
    defaults = DemoConfig()
    settings = ServiceSettings()
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__)
    parser.add_argument("--patrons", type=int, default=defaults.patrons, help="how many patrons the season has")
    parser.add_argument("--seed", type=int, default=defaults.seed, help="the same seed gives the same season")
    parser.add_argument("--organisation", default=defaults.organisation_id, help="the organisation id to load")
    for service, url in (
        ("ingest", defaults.ingest_url),
        ("identity", defaults.identity_url),
        ("profile", defaults.profile_url),
        ("notify", defaults.notify_url),
        ("console", defaults.console_url),
    ):
        parser.add_argument(f"--{service}-url", default=url, help=f"where {service} answers")
    parser.add_argument("--kafka-bootstrap", default=settings.kafka_bootstrap, help="PARTERRE_KAFKA_BOOTSTRAP")
    parser.add_argument("--mongo-url", default=settings.mongo_url, help="PARTERRE_MONGO_URL")
    parser.add_argument("--mongo-database", default=settings.mongo_database, help="PARTERRE_MONGO_DATABASE")
    parser.add_argument("--receiver-port", type=int, default=defaults.receiver_port, help="0 picks a free port")
    parser.add_argument("--concurrency", type=int, default=defaults.concurrency, help="requests in flight at once")
    parser.add_argument(
        "--timeout", type=float, default=defaults.drain_timeout_seconds, help="seconds to wait for the pipeline"
    )
    arguments = parser.parse_args(argv)
    config = DemoConfig(
        organisation_id=arguments.organisation,
        patrons=arguments.patrons,
        seed=arguments.seed,
        ingest_url=arguments.ingest_url,
        identity_url=arguments.identity_url,
        profile_url=arguments.profile_url,
        notify_url=arguments.notify_url,
        console_url=arguments.console_url,
        kafka_bootstrap=arguments.kafka_bootstrap,
        kafka_namespace=settings.kafka_namespace,
        mongo_url=arguments.mongo_url,
        mongo_database=arguments.mongo_database,
        receiver_port=arguments.receiver_port,
        concurrency=arguments.concurrency,
        drain_timeout_seconds=arguments.timeout,
    )
    try:
        summary = asyncio.run(run_demo(config, say=print_progress_note))
    except (DemoError, CredentialError, DrainTimeoutError, SendError) as error:
        print(f"demo: error: {error}", file=sys.stderr)
        return 1
    print(summary.render())
    if summary.intake.duplicates and not summary.intake.accepted:
        print(
            "\nThis season was loaded before: ingest recognised every event and published nothing again, so no new "
            "trigger fired. Run with another --seed or --organisation for a fresh season."
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
