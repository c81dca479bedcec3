"""``revsync ingest``: usage files with a progress bar and a summary."""

from __future__ import annotations

from pathlib import Path

from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn
from rich.table import Table

from revsync.application.ingestion import IngestContext, IngestReport
from revsync.bootstrap import Container
from revsync.entrypoints.cli.context import console, err_console
from revsync.schemas.usage_files import FileFormatError, detect_format, read_items

#: rejected lines printed per file (all of them are in the dead-letter store)
_SHOWN_REJECTIONS = 20


def ingest_files(container: Container, files: list[Path], fmt: str, chunk: int, actor: str) -> bool:
    """Ingest each file; print a summary. Returns True if any line or file was refused."""
    summary = Table("file", "accepted", "duplicates", "rejected", "unmapped", "late")
    refused_any = False
    for path in files:
        total = IngestReport()
        file_format = detect_format(path) if fmt == "auto" else fmt
        context = IngestContext("file", actor, correlation_id=f"file:{path.name}")
        try:
            _ingest_one(container, path, file_format, chunk, context, total)
        except FileFormatError as error:
            err_console.print(
                f"[red]{path}[/red]: {error}; nothing loaded", highlight=False, soft_wrap=True
            )
            refused_any = True
            continue
        for rejection in total.rejected[:_SHOWN_REJECTIONS]:
            err_console.print(
                f"{path}:{rejection.position}: {rejection.reason} ({rejection.code})",
                highlight=False,
                soft_wrap=True,
            )
        if len(total.rejected) > _SHOWN_REJECTIONS:
            err_console.print(
                f"… and {len(total.rejected) - _SHOWN_REJECTIONS} more (see /v1/dead-letters)"
            )
        refused_any |= bool(total.rejected)
        summary.add_row(
            path.name,
            str(total.accepted),
            str(total.duplicates),
            str(len(total.rejected)),
            str(total.unmapped),
            str(total.late),
        )
    console.print(summary)
    return refused_any


def _ingest_one(
    container: Container,
    path: Path,
    fmt: str,
    chunk: int,
    context: IngestContext,
    total: IngestReport,
) -> None:
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with (
        Progress(*columns, console=err_console, transient=True) as progress,
        path.open("rb") as handle,
    ):
        task = progress.add_task(path.name, total=path.stat().st_size)
        pending = None
        for items in read_items(handle, fmt, chunk):
            prepared = container.ingestion.prepare(items, context)
            if pending is not None:  # overlap reading the next chunk with the previous commit
                _add(total, pending.result())
            pending = container.ingestion.submit(prepared)
            progress.update(task, completed=handle.tell())
        if pending is not None:
            _add(total, pending.result())
        progress.update(task, completed=path.stat().st_size)


def _add(total: IngestReport, report: IngestReport) -> None:
    total.accepted += report.accepted
    total.duplicates += report.duplicates
    total.unmapped += report.unmapped
    total.late += report.late
    total.rejected.extend(report.rejected)
