"""``camops`` commands on recorded evidence and the platform: audit chain, access and retention
(R4, R5, R8), and incidents (R3, R11)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from rich.table import Table

from infra.cli.common import console

Command = TypeVar("Command", bound=Callable[..., Any])

if TYPE_CHECKING:
    from camops_recorder.chain import ChainReport


def _platform_access(scope: str) -> Callable[[Command], Command]:
    """``--url`` and ``--token-file`` (an automation token with ``scope``) of a command that
    reads the platform."""

    def options(command: Command) -> Command:
        command = click.option(
            "--token-file",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            required=True,
            help=f"File holding an automation token with the {scope} scope.",
        )(command)
        return click.option(
            "--url", required=True, help="The platform, e.g. https://platform.example.gov.vn"
        )(command)

    return options


def _platform_output(command: Command) -> Command:
    """``--ca-file`` and ``--json`` of a command that reads the platform."""
    command = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")(
        command
    )
    return click.option(
        "--ca-file", type=click.Path(exists=True, dir_okay=False), help="CA bundle (TLS)."
    )(command)


def _minutes(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 60:.1f} min"


@click.command("incidents")
@_platform_access("incidents:read")
@click.option(
    "--status",
    type=click.Choice(["open", "acknowledged", "resolved", "unresolved"]),
    help="Only incidents in this state (unresolved: open or acknowledged).",
)
@click.option("--facility", help="Only this facility's incidents.")
@click.option("--since", help="Outages that started from this UTC time (ISO 8601).")
@_platform_output
def incidents(  # noqa: PLR0917  # click passes one argument per option
    url: str,
    token_file: Path,
    status: str | None,
    facility: str | None,
    since: str | None,
    ca_file: str | None,
    as_json: bool,
) -> None:
    """Outages and their handling (R3, R11): when each started, who acknowledged it after how
    long, the substitute measure noted, when it was repaired. Exit 1 when any is still open
    (not acknowledged)."""
    query = {
        key: value
        for key, value in (
            ("status", status),
            ("facility", facility),
            ("since", since and _now(since).isoformat()),
        )
        if value
    }
    rows = _platform_get(url, "/api/v1/incidents", query, token_file, ca_file)
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
    else:
        table = Table(title="Incidents (sự cố)", title_justify="left")
        for column in (
            "id",
            "started (UTC)",
            "alert",
            "facility",
            "camera / instance",
            "status",
            "acknowledged",
            "repaired",
            "substitute measure (R11)",
        ):
            table.add_column(column)
        for row in rows:
            table.add_row(
                str(row["id"]),
                row["started_at"][:19].replace("T", " "),
                row["alertname"],
                row["facility_id"] or "(central)",
                row["camera"] or row["instance"],
                row["status"],
                _minutes(row["time_to_acknowledge_s"])
                + (f" {row['acknowledged_by']}" if row["acknowledged_by"] else ""),
                _minutes(row["time_to_repair_s"]),
                row["substitute"] or "-",
            )
        console.print(table)
        counts = {
            state: sum(r["status"] == state for r in rows)
            for state in ("open", "acknowledged", "resolved")
        }
        console.print(
            f"{len(rows)} incident(s): {counts['open']} open, {counts['acknowledged']} "
            f"acknowledged, {counts['resolved']} resolved"
        )
    sys.exit(1 if any(row["status"] == "open" for row in rows) else 0)


@click.group()
def audit() -> None:
    """Audit recorded evidence: hash chains and retention (R4, R5)."""


def _now(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


@audit.command("chain")
@click.argument("root")
@click.option("--camera", "camera_ids", multiple=True, help="Only these cameras (default: all).")
@click.option("--retention-days", type=click.IntRange(min=1), default=30, show_default=True)
@click.option("--now", "now_text", help="Audit as of this UTC time (ISO 8601).")
@click.option(
    "--endpoint-url",
    help="S3 endpoint for an s3:// ROOT (default: AWS_ENDPOINT_URL). Keys: the usual AWS "
    "variables or profile; the auditor's read-only keys are enough.",
)
def audit_chain(
    root: str,
    camera_ids: tuple[str, ...],
    retention_days: int,
    now_text: str | None,
    endpoint_url: str | None,
) -> None:
    """Verify each camera's manifest chain against its segments.

    ROOT is a recorder's folder (NVR or central disk) or s3://BUCKET[/FACILITY] in the WORM
    store. Exit 0 when every chain is intact, 1 naming the first broken link of each broken
    chain. In the store, object versions are read: delete markers and overwrites are reported.
    """
    now = _now(now_text)
    period = timedelta(days=retention_days)
    if root.startswith("s3://"):
        broken = _audit_chain_s3(root, camera_ids, period, now, endpoint_url)
        sys.exit(1 if broken else 0)
    from camops_recorder import chain, retention  # noqa: PLC0415

    folder = Path(root)
    if not folder.is_dir():
        raise click.BadParameter(f"{root} is not a folder (or s3://BUCKET)", param_hint="ROOT")
    broken = 0
    for camera_dir in retention.cameras(folder):
        if camera_ids and camera_dir.name not in camera_ids:
            continue
        report = chain.verify(camera_dir.name, camera_dir, period, now)
        broken += _chain_line(report)
    sys.exit(1 if broken else 0)


def _chain_line(report: ChainReport, where: str = "") -> int:
    """Print one camera's verdict; 1 if its chain is broken."""
    if report.ok:
        click.echo(
            f"OK     {where}{report.camera}: {report.entries} segments chained, "
            f"{report.expired} past retention"
        )
        return 0
    assert report.broken is not None  # noqa: S101  # not ok means broken
    click.echo(f"BROKEN {where}{report.camera}: {report.broken.line()}")
    return 1


def _audit_chain_s3(
    root: str,
    camera_ids: tuple[str, ...],
    period: timedelta,
    now: datetime,
    endpoint_url: str | None,
) -> int:
    import boto3  # noqa: PLC0415
    from botocore.config import Config  # noqa: PLC0415
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

    from camops_recorder import s3audit  # noqa: PLC0415

    bucket, _, facility = root.removeprefix("s3://").partition("/")
    client = boto3.client(
        "s3", endpoint_url=endpoint_url, config=Config(s3={"addressing_style": "path"})
    )
    broken = 0
    try:
        pairs = s3audit.cameras(client, bucket, facility.strip("/") or None)
        if not pairs:
            raise click.ClickException(f"{root}: no recordings found")
        for facility_id, camera in pairs:
            if camera_ids and camera not in camera_ids:
                continue
            result = s3audit.verify(client, bucket, facility_id, camera, retention=period, now=now)
            broken += _chain_line(result.report, f"{facility_id}/")
            for finding in result.findings:
                click.echo(f"       {finding}")
    except (BotoCoreError, ClientError) as error:
        raise click.ClickException(f"{root}: {error}") from error
    return broken


def _platform_get(
    url: str, path: str, query: dict[str, str], token_file: Path, ca_file: str | None
) -> Any:
    """GET one of the platform's API paths with an automation token; its JSON."""
    from infra.platform_client import PlatformClient, PlatformError  # noqa: PLC0415

    token = token_file.read_text(encoding="utf-8").strip()
    # As before: a redirect (http to https) is followed.
    client = PlatformClient(url, token=token, ca_file=ca_file, follow_redirects=True)
    try:
        return client.get(path, query)
    except PlatformError as error:
        raise click.ClickException(str(error)) from error


@audit.command("access")
@_platform_access("audit:read")
@click.option("--user", help="Only this person (official e-mail).")
@click.option("--facility", help="Only this facility's cameras.")
@click.option("--camera", help="Only this camera (or other target).")
@click.option("--since", help="From this UTC time (ISO 8601).")
@click.option("--until", help="Until this UTC time (ISO 8601).")
@_platform_output
def audit_access(  # noqa: PLR0917  # click passes one argument per option
    url: str,
    token_file: Path,
    user: str | None,
    facility: str | None,
    camera: str | None,
    since: str | None,
    until: str | None,
    ca_file: str | None,
    as_json: bool,
) -> None:
    """Who logged in, watched, played back or changed what (R8); verifies the log's chain.

    Exit 0 when the hash chain of the whole log verifies, 1 naming the first broken entry.
    """
    query = {
        key: value
        for key, value in (
            ("actor", user),
            ("facility", facility),
            ("target", camera),
            ("since", since and _now(since).isoformat()),
            ("until", until and _now(until).isoformat()),
        )
        if value
    }
    report = _platform_get(url, "/api/v1/audit", query, token_file, ca_file)
    if as_json:
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        table = Table(title="Access log", title_justify="left")
        for column in ("seq", "time (UTC)", "who", "action", "target", "from", "outcome"):
            table.add_column(column)
        for entry in report["entries"]:
            table.add_row(
                str(entry["seq"]),
                entry["at"][:19].replace("T", " "),
                entry["actor"],
                entry["action"],
                entry["target"],
                entry["source_ip"],
                entry["outcome"],
            )
        console.print(table)
        if report["chain_ok"]:
            console.print(f"chain OK: {len(report['entries'])} entries shown, whole log verified")
        else:
            console.print(f"chain BROKEN at entry {report['broken_seq']}: {report['reason']}")
    sys.exit(0 if report["chain_ok"] else 1)


@audit.command("retention")
@click.argument("root", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--retention-days", type=click.IntRange(min=1), default=30, show_default=True)
@click.option("--segment-seconds", type=click.IntRange(min=1), default=60, show_default=True)
@click.option("--now", "now_text", help="Audit as of this UTC time (ISO 8601).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def audit_retention(
    root: Path, retention_days: int, segment_seconds: int, now_text: str | None, as_json: bool
) -> None:
    """Oldest recording, volume and gaps per camera under ROOT, against the retention target."""
    from camops_recorder import retention  # noqa: PLC0415

    now = _now(now_text)
    length = timedelta(seconds=segment_seconds)
    rows = [retention.camera_retention(d, length) for d in retention.cameras(root)]
    if as_json:
        click.echo(
            json.dumps(
                [
                    {
                        "camera": r.camera,
                        "segments": r.segments,
                        "bytes": r.bytes,
                        "oldest": r.oldest.isoformat() if r.oldest else None,
                        "oldest_age_days": (r.oldest_age(now) or timedelta()) / timedelta(days=1),
                        "gaps": [
                            {
                                "start": g.start.isoformat(),
                                "end": g.end.isoformat(),
                                "seconds": g.seconds,
                            }
                            for g in r.gaps
                        ],
                    }
                    for r in rows
                ],
                indent=2,
            )
        )
        return
    table = Table(title=f"Retention against {retention_days} days", title_justify="left")
    for column in ("camera", "segments", "GB", "oldest", "age (days)", "target met", "gaps"):
        table.add_column(column)
    for row in rows:
        age = row.oldest_age(now)
        days = age / timedelta(days=1) if age else 0.0
        gaps = ", ".join(f"{g.start:%Y-%m-%d %H:%M:%S} ({g.seconds:.0f}s)" for g in row.gaps)
        table.add_row(
            row.camera,
            str(row.segments),
            f"{row.bytes / 1e9:.3f}",
            f"{row.oldest:%Y-%m-%d %H:%M}" if row.oldest else "-",
            f"{days:.2f}",
            "yes" if days >= retention_days else "not yet",
            gaps or "none",
        )
    console.print(table)


COMMANDS: list[click.Command] = [incidents, audit]
