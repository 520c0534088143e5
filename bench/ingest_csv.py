"""Box-office import: rows per second and peak memory of `parterre import boxoffice` on a large export."""

import os
import sys
import uuid
from pathlib import Path

from bench.support import REPO_ROOT, Result, Servers, discard_run, run_measured
from services.ingest.adapters.mongo import SOURCES, MongoSourceRegistry
from services.ingest.domain.sources import Source, SourceKind
from shared.mongo import mongo_client
from shared.topic_admin import ensure_topics
from shared.topics import all_topic_partitions

HEADER = "Prénom;Nom;Courriel;Spectacle;Date de représentation;Montant;Quantité;No de commande\r\n"


def write_export(path: Path, rows: int) -> None:
    """A French, `;`-separated, Windows-1252 export as a box office writes it; 1 row in 100 is broken."""
    with path.open("w", encoding="cp1252", newline="") as export:
        export.write(HEADER)
        for number in range(rows):
            amount = "quarante" if number % 100 == 99 else f"{40 + number % 60},50 $"
            export.write(
                f"Hélène;D'Amours;patron{number % 50_000}@example.ca;Les Belles-sœurs;"
                f"{1 + number % 28:02d}/10/2026 19:30;{amount};{1 + number % 4};CMD-{number:07d}\r\n"
            )


async def measure(servers: Servers, rows: int = 1_000_000) -> list[Result]:
    work = REPO_ROOT / ".local" / "bench"
    work.mkdir(parents=True, exist_ok=True)
    export = work / f"export-{rows}.csv"
    if not export.exists():
        write_export(export, rows)
    database = f"bench_{uuid.uuid4().hex[:8]}"
    source_id = f"bench-{uuid.uuid4().hex[:8]}"
    # The run's events go to topics of its own, deleted afterwards, not to the catalog's.
    namespace = f"{source_id}."
    await ensure_topics(servers.kafka_bootstrap, all_topic_partitions(namespace))
    async with mongo_client(servers.mongo_url, app_name="parterre-bench") as client:
        await MongoSourceRegistry(client[database][SOURCES]).create(
            Source(source_id, "bench-theatre", SourceKind.BOXOFFICE)
        )
        try:
            seconds, peak_rss_mb, output, cpu = _run_import(export, source_id, servers, database, namespace)
        finally:
            await discard_run(servers, database, namespace)
    size_mb = export.stat().st_size / 1e6
    return [
        Result(
            "ingest: box-office CSV import (CLI)",
            rows / seconds,
            "rows/s",
            goal=">= 5000",
            note=f"{rows:,} rows, {size_mb:.0f} MB, published to Kafka; {output}; "
            f"import CPU {cpu / rows * 1e6:.0f} µs a row",
        ),
        Result(
            "ingest: CSV import peak memory",
            peak_rss_mb,
            "MB RSS",
            goal="flat",
            note=f"whole process, {rows:,} rows; a file this size would be {size_mb:.0f} MB in memory",
        ),
    ]


def _run_import(
    export: Path, source_id: str, servers: Servers, database: str, namespace: str
) -> tuple[float, float, str, float]:
    environment = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "PARTERRE_KAFKA_BOOTSTRAP": servers.kafka_bootstrap,
        "PARTERRE_MONGO_URL": servers.mongo_url,
        "PARTERRE_MONGO_DATABASE": database,
        "PARTERRE_KAFKA_NAMESPACE": namespace,
    }
    run = run_measured(
        [sys.executable, "-m", "shared.cli", "import", "boxoffice", str(export), "--source", source_id], environment
    )
    output = run.stdout
    if run.returncode != 0:
        raise RuntimeError(f"the import failed:\n{output}{run.stderr[-2000:]}")
    accepted = next((line.split()[-1] for line in output.splitlines() if line.startswith("accepted")), "?")
    rejected = next((line.split()[-1] for line in output.splitlines() if line.startswith("rejected")), "?")
    return run.seconds, run.peak_rss_mb, f"{accepted} accepted, {rejected} rejected", run.cpu_seconds
