"""``camops``: the command line of the camops ops library."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import click
from rich.console import Console
from rich.table import Table

from infra import access, loader, sizing, vault
from infra.model import Inventory, Sizing
from infra.problems import Severity, errors
from infra.validate import validate_path

if TYPE_CHECKING:
    from infra.drift import CheckRun
    from infra.recording.chain import ChainReport

_stdout = Console(width=None if sys.stdout.isatty() else 160, highlight=False)
_stderr = Console(stderr=True, highlight=False)


def _inventory(path: str) -> Inventory:
    """Load an inventory that must be valid; exit 1 listing the problems otherwise."""
    try:
        problems = validate_path(path)
    except loader.InventoryNotFoundError as error:
        raise click.UsageError(str(error)) from error
    found = errors(problems)
    if found:
        for problem in found:
            click.echo(problem.line(), err=True)
        click.echo(f"{len(found)} error(s): run 'camops validate {path}' and fix them", err=True)
        sys.exit(1)
    result = loader.load(path)
    assert result.inventory is not None  # noqa: S101  # validated above
    return result.inventory


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="camops")
def main() -> None:
    """Roll out, operate, audit and retire quarantine-facility camera systems."""


@main.command()
@click.argument("inventory")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--strict", is_flag=True, help="Warnings fail too.")
@click.option(
    "--vault-password-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Also check that every credential reference is defined in the vault.",
)
def validate(inventory: str, as_json: bool, strict: bool, vault_password_file: Path | None) -> None:
    """Validate INVENTORY (a folder such as inventories/lab, or a name such as lab).

    Exit 0 when valid, 1 with one line per problem otherwise (errors first; all on standard
    output, so a redirect keeps them all).
    """
    try:
        problems = validate_path(inventory, vault_password_file)
    except loader.InventoryNotFoundError as error:
        raise click.UsageError(str(error)) from error
    failing = [p for p in problems if strict or p.severity is Severity.ERROR]
    if as_json:
        click.echo(
            json.dumps(
                {"valid": not failing, "problems": [p.as_dict() for p in problems]},
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        for problem in problems:
            click.echo(problem.line())  # one stream: `> out.txt` keeps errors and warnings
        n_errors = len(errors(problems))
        click.echo(f"{inventory}: {n_errors} error(s), {len(problems) - n_errors} warning(s)")
    sys.exit(1 if failing else 0)


@main.command()
@click.argument("inventory")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--headroom", type=float, help="Extra storage fraction (default: province sizing).")
@click.option("--node-capacity-mbps", type=float, help="Ingest one recorder node can take.")
@click.option("--min-nodes", type=int, help="Smallest recorder pool.")
def size(
    inventory: str,
    as_json: bool,
    headroom: float | None,
    node_capacity_mbps: float | None,
    min_nodes: int | None,
) -> None:
    """Storage, uplink and recorders for INVENTORY's retention period."""
    model = _inventory(inventory)
    overrides = {
        key: value
        for key, value in {
            "headroom": headroom,
            "recorder_node_capacity_mbps": node_capacity_mbps,
            "recorder_min_nodes": min_nodes,
        }.items()
        if value is not None
    }
    factors = Sizing.model_validate(model.province.sizing.model_dump() | overrides)
    report = sizing.size(model, factors)
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
        return
    _print_size(model, report)


def _print_size(model: Inventory, report: sizing.SizingReport) -> None:
    cameras = Table(title=f"Cameras — {model.province.name}", title_justify="left")
    for column in ("facility", "camera", "kbit/s", "days", "GB/day", "storage GB"):
        cameras.add_column(column, justify="left" if column in {"facility", "camera"} else "right")
    for item in report.facilities:
        for cam in item.cameras:
            cameras.add_row(
                item.facility_id,
                cam.camera_id,
                str(cam.bitrate_kbps),
                str(cam.retention_days),
                f"{cam.gb_per_day:.1f}",
                f"{cam.storage_gb:.0f}",
            )
    _stdout.print(cameras)

    facilities = Table(title="Facilities (NVR storage, uplink)", title_justify="left")
    for column in (
        "facility",
        "district",
        "status",
        "cameras",
        "ingest Mbit/s",
        "uplink needed Mbit/s",
        "uplink line",
        "NVR storage GB",
        "NVR disk GB",
    ):
        facilities.add_column(
            column, justify="left" if column in {"facility", "district", "status"} else "right"
        )
    for item in report.facilities:
        facilities.add_row(
            item.facility_id,
            item.district,
            item.status,
            str(len(item.cameras)),
            f"{item.ingest_mbps:.1f}",
            f"{item.uplink_mbps:.1f}",
            "" if item.uplink_available_mbps is None else f"{item.uplink_available_mbps:g}",
            f"{item.storage_gb:.0f}",
            "" if item.nvr_storage_gb is None else str(item.nvr_storage_gb),
        )
    _stdout.print(facilities)

    districts = Table(title="Districts (active and standby facilities)", title_justify="left")
    for column in ("district", "name", "facilities", "cameras", "ingest Mbit/s", "storage GB"):
        districts.add_column(column, justify="left" if column in {"district", "name"} else "right")
    for district in report.districts:
        districts.add_row(
            district.district,
            district.name,
            str(district.facilities),
            str(district.cameras),
            f"{district.ingest_mbps:.1f}",
            f"{district.storage_gb:.0f}",
        )
    _stdout.print(districts)

    central = report.central
    _stdout.print(
        f"Central: {central.facilities} facilities, {central.cameras} cameras, "
        f"ingest {central.ingest_mbps:.1f} Mbit/s, storage {central.storage_gb:.0f} GB "
        f"({central.storage_gb / 1000:.2f} TB, headroom {central.headroom:.0%}), "
        f"recorder nodes {central.recorder_nodes} at {central.node_capacity_mbps:g} Mbit/s each"
    )


@main.command("access-matrix")
@click.argument("inventory")
@click.option("--format", "fmt", type=click.Choice(["md", "csv"]), default="md", show_default=True)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to this file instead of standard output.",
)
@click.option(
    "--check", is_flag=True, help="Exit 1 if --output differs from what would be written (for CI)."
)
def access_matrix(inventory: str, fmt: str, output: Path | None, check: bool) -> None:
    """Who sees which facilities and cameras of INVENTORY (R7)."""
    model = _inventory(inventory)
    text = access.to_markdown(model) if fmt == "md" else access.to_csv(model)
    if output is None:
        if check:
            raise click.UsageError("--check needs --output")
        click.echo(text, nl=False)
        return
    if check:
        current = output.read_text(encoding="utf-8") if output.is_file() else None
        if current != text:
            click.echo(
                f"{output} is not current: run 'camops access-matrix {inventory} "
                f"--format {fmt} --output {output}' and commit it",
                err=True,
            )
            sys.exit(1)
        click.echo(f"{output} is current")
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    click.echo(f"wrote {output}")


@main.command("alert-routing")
@click.argument("inventory")
@click.option(
    "--check",
    is_flag=True,
    help="Check the configuration with amtool and print who receives each facility's alerts.",
)
@click.option(
    "--webhook-url",
    default="",
    help="The platform's incidents webhook (empty: mail only, as before the platform exists).",
)
@click.option("--smtp-smarthost", default="127.0.0.1:25", show_default=True)
@click.option("--smtp-from", default="camops-alerts@localhost", show_default=True)
def alert_routing(
    inventory: str, check: bool, webhook_url: str, smtp_smarthost: str, smtp_from: str
) -> None:
    """Alertmanager's routing from INVENTORY (R3, R11): each facility's alerts to its duty team
    and its district's telecom on-call; the rest to the central on-call."""
    import subprocess  # noqa: PLC0415
    import tempfile  # noqa: PLC0415

    import yaml  # noqa: PLC0415

    from infra import monitoring  # noqa: PLC0415
    from infra.model import FacilityStatus  # noqa: PLC0415

    model = _inventory(inventory)
    delivery = monitoring.Delivery(webhook_url or None, smtp_smarthost, smtp_from)
    config = monitoring.alertmanager_config(model, delivery)
    text = yaml.safe_dump(config, allow_unicode=True, sort_keys=False)
    if not check:
        click.echo(text, nl=False)
        return
    amtool = Path(sys.executable).parent / "amtool"
    tool = str(amtool) if amtool.exists() else shutil.which("amtool")
    if tool is None:
        raise click.ClickException("amtool is not installed: run 'make setup'")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "alertmanager.yml"
        path.write_text(text, encoding="utf-8")
        checked = subprocess.run(  # noqa: S603
            [tool, "check-config", str(path)], capture_output=True, text=True, check=False
        )
        if checked.returncode != 0:
            click.echo(checked.stdout + checked.stderr, err=True)
            raise click.ClickException(f"amtool rejects the routing of {inventory}")
        receivers = {r["name"]: r for r in config["receivers"]}
        for facility in sorted(model.facilities, key=lambda item: item.id):
            if facility.status is not FacilityStatus.ACTIVE:
                click.echo(f"{facility.id}: {facility.status.value}, not watched")
                continue
            routed = subprocess.run(  # noqa: S603
                [
                    tool,
                    "config",
                    "routes",
                    "test",
                    f"--config.file={path}",
                    f"facility={facility.id}",
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
            mails = [c["to"] for c in receivers[routed].get("email_configs", [])]
            click.echo(f"{facility.id}: {routed} -> {', '.join(mails) or 'no mail'}")
    click.echo(f"amtool: the routing of {inventory} is valid")


@main.command("pulumi-inventory")
@click.argument("stack_output", type=click.File("r", encoding="utf-8"), required=False)
@click.option(
    "--stack",
    help="Read this stack's outputs with Pulumi's Automation API (needs the Pulumi CLI) "
    "instead of STACK_OUTPUT.",
)
@click.option(
    "--program",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("pulumi/central"),
    show_default=True,
    help="The Pulumi program's folder (with --stack).",
)
@click.option(
    "-i",
    "--inventory",
    help="The province inventory to compare with: what province.yml must declare is listed.",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the Ansible inventory to this file instead of standard output.",
)
@click.option("--strict", is_flag=True, help="Exit 1 when the model and the stack differ.")
def pulumi_inventory(
    *,
    stack_output: TextIO | None,
    stack: str | None,
    program: Path,
    inventory: str | None,
    output: Path | None,
    strict: bool,
) -> None:
    """The central hosts of a Pulumi stack as an Ansible inventory file.

    STACK_OUTPUT is the output of 'pulumi stack output --json' in pulumi/central ('-': stdin);
    or --stack NAME reads it through the Automation API where the Pulumi CLI is installed.
    """
    from infra import pulumi_inventory as pulumi_stack  # noqa: PLC0415  # only this command

    if (stack_output is None) == (stack is None):
        raise click.UsageError("give STACK_OUTPUT (a file, or - for stdin) or --stack, not both")
    where = stack_output.name if stack_output is not None else f"stack {stack}"
    try:
        if stack_output is not None:
            document = json.load(stack_output)
        else:
            assert stack is not None  # noqa: S101  # checked above
            document = pulumi_stack.automation_outputs(stack, program)
        text = pulumi_stack.render(document)
    except json.JSONDecodeError as error:
        raise click.UsageError(
            f"{where}: not JSON ({error}); give 'pulumi stack output --json'"
        ) from None
    except pulumi_stack.StackOutputError as error:
        raise click.UsageError(f"{where}: {error}") from None
    differences = pulumi_stack.differences(document, _inventory(inventory)) if inventory else []
    if output is None:
        click.echo(text, nl=False)
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)
    for message in differences:
        click.echo(f"{'ERROR' if strict else 'WARNING'} {message}", err=True)
    if differences and strict:
        sys.exit(1)


def _minutes(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds / 60:.1f} min"


@main.command("incidents")
@click.option("--url", required=True, help="The platform, e.g. https://platform.example.gov.vn")
@click.option(
    "--token-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="File holding an automation token with the incidents:read scope.",
)
@click.option(
    "--status",
    type=click.Choice(["open", "acknowledged", "resolved", "unresolved"]),
    help="Only incidents in this state (unresolved: open or acknowledged).",
)
@click.option("--facility", help="Only this facility's incidents.")
@click.option("--since", help="Outages that started from this UTC time (ISO 8601).")
@click.option("--ca-file", type=click.Path(exists=True, dir_okay=False), help="CA bundle (TLS).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
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
        _stdout.print(table)
        counts = {
            state: sum(r["status"] == state for r in rows)
            for state in ("open", "acknowledged", "resolved")
        }
        _stdout.print(
            f"{len(rows)} incident(s): {counts['open']} open, {counts['acknowledged']} "
            f"acknowledged, {counts['resolved']} resolved"
        )
    sys.exit(1 if any(row["status"] == "open" for row in rows) else 0)


@main.command("vault-init")
@click.argument("inventory")
@click.option(
    "--vault-password-file",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Ansible Vault password file.",
)
@click.option(
    "--file",
    "vault_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Vault file to write (default: INVENTORY/group_vars/all/vault.yml).",
)
def vault_init(inventory: str, vault_password_file: Path, vault_file: Path | None) -> None:
    """Create a random credential for every vault reference of INVENTORY not yet defined.

    Existing entries are kept; secrets are written encrypted and never printed.
    """
    model = _inventory(inventory)
    try:
        result = vault.init(model, vault_password_file, vault_file)
    except vault.VaultError as error:
        raise click.ClickException(str(error)) from error
    for name in result.added:
        click.echo(f"added {name}")
    click.echo(f"{result.file}: {len(result.added)} added, {result.kept} kept")


@main.group()
def accounts() -> None:
    """The §8 registration form: import into and export from an inventory (R6)."""


@accounts.command("import")
@click.argument("inventory")
@click.argument("form", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="Check the form; write nothing.")
def accounts_import(inventory: str, form: Path, dry_run: bool) -> None:
    """Merge FORM (.xlsx or .csv) into INVENTORY's accounts.yml: all rows or none.

    A person is known by the official e-mail: new ones are added, known ones updated, others
    kept. Exit 1 with one line per problem (form row and column) and nothing written.
    """
    from infra import forms  # noqa: PLC0415

    folder = loader.resolve(inventory)
    try:
        result = forms.import_form(folder, form, dry_run=dry_run)
    except forms.FormError as error:
        raise click.ClickException(str(error)) from error
    if result.problems:
        for problem in result.problems:
            click.echo(f"ERROR {form.name}: {problem.line()}")
        click.echo(f"nothing imported: {len(result.problems)} problem(s) in {form.name}", err=True)
        sys.exit(1)
    verb = "would add" if dry_run else "added"
    click.echo(
        f"{verb} {len(result.added)}, updated {len(result.updated)}, "
        f"unchanged {len(result.unchanged)}"
        + (f"; wrote {folder / loader.ACCOUNTS_FILE}" if result.written else "")
    )


@accounts.command("export")
@click.argument("inventory")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="The form to write (.xlsx or .csv).",
)
def accounts_export(inventory: str, output: Path) -> None:
    """Write INVENTORY's accounts as a §8 registration form."""
    from infra import forms  # noqa: PLC0415

    model = _inventory(inventory)
    entries = [account.model_dump(mode="json") for account in model.accounts]
    try:
        count = forms.export_form(entries, output)
    except forms.FormError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"wrote {count} account(s) to {output}")


@main.group()
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
    from infra.recording import chain, retention  # noqa: PLC0415

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

    from infra.recording import s3audit  # noqa: PLC0415

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
    import ssl  # noqa: PLC0415
    import urllib.error  # noqa: PLC0415
    import urllib.parse  # noqa: PLC0415
    import urllib.request  # noqa: PLC0415

    request = urllib.request.Request(  # noqa: S310  # https or a lab http URL, given by the user
        f"{url.rstrip('/')}{path}?{urllib.parse.urlencode(query)}",
        headers={"Authorization": f"Bearer {token_file.read_text(encoding='utf-8').strip()}"},
    )
    context = ssl.create_default_context(cafile=ca_file)
    try:
        with urllib.request.urlopen(request, timeout=30, context=context) as response:  # noqa: S310
            return json.loads(response.read())
    except urllib.error.HTTPError as error:
        raise click.ClickException(f"{url}: HTTP {error.code} {error.read()[:200]!r}") from error
    except urllib.error.URLError as error:
        raise click.ClickException(f"{url}: {error.reason}") from error


@audit.command("access")
@click.option("--url", required=True, help="The platform, e.g. https://platform.example.gov.vn")
@click.option(
    "--token-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="File holding an automation token with the audit:read scope.",
)
@click.option("--user", help="Only this person (official e-mail).")
@click.option("--facility", help="Only this facility's cameras.")
@click.option("--camera", help="Only this camera (or other target).")
@click.option("--since", help="From this UTC time (ISO 8601).")
@click.option("--until", help="Until this UTC time (ISO 8601).")
@click.option("--ca-file", type=click.Path(exists=True, dir_okay=False), help="CA bundle (TLS).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
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
        _stdout.print(table)
        if report["chain_ok"]:
            _stdout.print(f"chain OK: {len(report['entries'])} entries shown, whole log verified")
        else:
            _stdout.print(f"chain BROKEN at entry {report['broken_seq']}: {report['reason']}")
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
    from infra.recording import retention  # noqa: PLC0415

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
    _stdout.print(table)


def _ansible_env(model: Inventory, vault_password_file: Path | None) -> dict[str, str]:
    """This process' environment with camops' ansible.cfg and the vault's password file (the
    lab's own for the lab inventory when none is given)."""
    import os  # noqa: PLC0415

    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ)
    env.setdefault("ANSIBLE_CONFIG", str(root / "ansible.cfg"))
    if vault_password_file is None and "ANSIBLE_VAULT_PASSWORD_FILE" not in env:
        lab_password = root / ".lab" / "vault-pass"
        if model.name == "lab" and lab_password.exists():
            vault_password_file = lab_password
    if vault_password_file is not None:
        env["ANSIBLE_VAULT_PASSWORD_FILE"] = str(vault_password_file.resolve())
    return env


def _run_playbook(
    playbook: str,
    inventory: str,
    extra_vars: dict[str, str],
    vault_password_file: Path | None,
    ansible_args: tuple[str, ...],
) -> None:
    """Run one of camops' playbooks with this environment's ansible-playbook; exit with its code.

    The inventory is validated first (the playbook validates it again on the controller).
    """
    import subprocess  # noqa: PLC0415

    model = _inventory(inventory)
    root = Path(__file__).resolve().parents[1]
    env = _ansible_env(model, vault_password_file)
    command = [
        str(Path(sys.executable).parent / "ansible-playbook"),
        str(root / "playbooks" / playbook),
        "-i",
        str(Path(model.path).resolve()),
    ]
    if extra_vars:
        # One JSON document: a value with spaces (a decision's reference) stays one value.
        command += ["-e", json.dumps(extra_vars, ensure_ascii=False)]
    command += list(ansible_args)
    click.echo("+ " + " ".join(command), err=True)
    sys.exit(subprocess.run(command, env=env, check=False).returncode)  # noqa: S603


_VAULT_OPTION = click.option(
    "--vault-password-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Ansible Vault password file (default: ANSIBLE_VAULT_PASSWORD_FILE; the lab's own).",
)


def _decision_ref_option(what: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option(
        "--decision-ref", required=True, help=f'{what} E.g. "1234/QĐ-UBND ngày 15/11/2026".'
    )


def _known_site(inventory: str, site: str) -> None:
    model = _inventory(inventory)
    if site not in {facility.id for facility in model.facilities}:
        known = ", ".join(sorted(facility.id for facility in model.facilities))
        raise click.BadParameter(f"'{site}' is not a facility of {inventory}; facilities: {known}")


@main.command(context_settings={"ignore_unknown_options": True})
@click.argument("site")
@click.option("-i", "--inventory", default="inventories/lab", show_default=True)
@_VAULT_OPTION
@click.argument("ansible_args", nargs=-1, type=click.UNPROCESSED)
def rollout(
    site: str, inventory: str, vault_password_file: Path | None, ansible_args: tuple[str, ...]
) -> None:
    """Roll out facility SITE with playbooks/site_rollout.yml (router, cameras, NVR,
    registration, verification). Further arguments go to ansible-playbook (e.g. --check --diff).
    """
    _known_site(inventory, site)
    _run_playbook("site_rollout.yml", inventory, {"site": site}, vault_password_file, ansible_args)


@main.command(context_settings={"ignore_unknown_options": True})
@click.argument("site")
@click.option("-i", "--inventory", default="inventories/lab", show_default=True)
@_VAULT_OPTION
@click.argument("ansible_args", nargs=-1, type=click.UNPROCESSED)
def verify(
    site: str, inventory: str, vault_password_file: Path | None, ansible_args: tuple[str, ...]
) -> None:
    """Verify facility SITE (playbooks/site_verify.yml): recording at the NVR and at central,
    live view, who may watch."""
    _known_site(inventory, site)
    _run_playbook("site_verify.yml", inventory, {"site": site}, vault_password_file, ansible_args)


@main.command(context_settings={"ignore_unknown_options": True})
@click.argument("site")
@click.option("-i", "--inventory", default="inventories/lab", show_default=True)
@click.option(
    "--decision",
    type=click.Choice(["standby", "handover", "remove"]),
    required=True,
    help="What the district (or the Military Command) decided (§II.7e).",
)
@_decision_ref_option("The decision's document number and date.")
@_VAULT_OPTION
@click.argument("ansible_args", nargs=-1, type=click.UNPROCESSED)
def decommission(  # noqa: PLR0917  # click passes one argument per option
    site: str,
    inventory: str,
    decision: str,
    decision_ref: str,
    vault_password_file: Path | None,
    ansible_args: tuple[str, ...],
) -> None:
    """Decommission facility SITE (R13) with playbooks/site_decommission.yml: remote access
    ends, monitoring and central recording stop, recordings stay protected, the decision is
    written into the inventory with a report. Checked before anything is touched."""
    from infra import lifecycle  # noqa: PLC0415

    try:
        request = lifecycle.check_request(loader.load(inventory), site, decision, decision_ref)
    except lifecycle.LifecycleError as error:
        raise click.UsageError(str(error)) from None
    _run_playbook(
        "site_decommission.yml",
        inventory,
        {"site": site, "decision": decision, "decision_ref": request.decision_ref},
        vault_password_file,
        ansible_args,
    )


@main.command(context_settings={"ignore_unknown_options": True})
@click.argument("site")
@click.option("-i", "--inventory", default="inventories/lab", show_default=True)
@_decision_ref_option("The re-activation decision's number and date (for the commit message).")
@_VAULT_OPTION
@click.argument("ansible_args", nargs=-1, type=click.UNPROCESSED)
def reactivate(
    site: str,
    inventory: str,
    decision_ref: str,
    vault_password_file: Path | None,
    ansible_args: tuple[str, ...],
) -> None:
    """Re-activate facility SITE on standby (R14): 'status: active' in its file, then the
    normal rollout (playbooks/site_rollout.yml) brings it back."""
    from infra import lifecycle  # noqa: PLC0415
    from infra.model import FacilityStatus  # noqa: PLC0415

    loaded = loader.load(inventory)
    try:
        request = lifecycle.check_request(loaded, site, "standby", decision_ref)
    except lifecycle.LifecycleError as error:
        raise click.UsageError(str(error)) from None
    model = _inventory(inventory)
    status = model.facility(site).status
    if status not in {FacilityStatus.STANDBY, FacilityStatus.ACTIVE}:
        raise click.UsageError(f"{site} is {status.value}: only a facility on standby re-activates")
    if lifecycle.set_status(Path(model.path), request.facility_file, FacilityStatus.ACTIVE, ""):
        click.echo(
            f"{request.facility_file}: status active (commit it with '{request.decision_ref}')",
            err=True,
        )
    _run_playbook("site_rollout.yml", inventory, {"site": site}, vault_password_file, ansible_args)


@main.command(context_settings={"ignore_unknown_options": True})
@click.option("-i", "--inventory", default="inventories/lab", show_default=True)
@click.option(
    "--site",
    "sites",
    multiple=True,
    help="Check only this facility (repeatable); default: every active facility.",
)
@click.option("--no-central", is_flag=True, help="Skip the central side (central.yml).")
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the findings as JSON to this file ('-': standard output only).",
)
@click.option(
    "--jobs",
    type=click.IntRange(1, 16),
    default=4,
    show_default=True,
    help="Checks run at the same time (each is one ansible-playbook --check).",
)
@_VAULT_OPTION
@click.argument("ansible_args", nargs=-1, type=click.UNPROCESSED)
def drift(  # noqa: PLR0917  # click passes one argument per option
    inventory: str,
    sites: tuple[str, ...],
    no_central: bool,
    json_path: Path | None,
    jobs: int,
    vault_password_file: Path | None,
    ansible_args: tuple[str, ...],
) -> None:
    """Configuration drift (R9): each active facility's rollout (playbooks/drift_check.yml)
    and the central side (central.yml) as a check (--check --diff) against the estate; what
    differs is listed per facility with its before and after. Exit 0: no drift; 1: drift (or a
    check that could not run). Further arguments go to ansible-playbook (e.g. -e k=v)."""
    from infra import drift as drift_module  # noqa: PLC0415
    from infra.model import FacilityStatus  # noqa: PLC0415

    model = _inventory(inventory)
    for site in sites:
        _known_site(inventory, site)
    chosen = list(sites) or [f.id for f in model.facilities]
    skipped = {
        f.id: f"status {f.status.value}: not rolled out, nothing to compare"
        for f in model.facilities
        if f.id in chosen and f.status is not FacilityStatus.ACTIVE
    }
    scopes = ([] if no_central else [drift_module.CENTRAL]) + [
        site for site in chosen if site not in skipped
    ]
    env = _ansible_env(model, vault_password_file)
    path = str(Path(model.path).resolve())

    def one(scope: str) -> drift_module.CheckRun:
        _stderr.print(f"drift check: {scope} ...")
        run = drift_module.check(scope, path, env, list(ansible_args))
        _stderr.print(
            f"drift check: {scope}: {len(run.findings)} finding(s) in {run.seconds:.1f} s"
            + (f"; ERROR {run.error}" if run.error else "")
        )
        return run

    # Checks only read: several at once (each its own ansible-playbook); reported in order.
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        runs = list(pool.map(one, scopes))
    report = drift_module.document(model.name, runs, skipped)
    if json_path is not None:
        text = json.dumps(report, ensure_ascii=False, indent=2) + "\n"
        if str(json_path) == "-":
            click.echo(text, nl=False)
        else:
            json_path.write_text(text, encoding="utf-8")
    if json_path is None or str(json_path) != "-":
        _print_drift(runs, skipped)
    sys.exit(1 if report["drift"] else 0)


def _print_drift(runs: list[CheckRun], skipped: dict[str, str]) -> None:
    from rich.markup import escape  # noqa: PLC0415

    from infra import drift as drift_module  # noqa: PLC0415

    for run in runs:
        if run.error:
            _stdout.print(f"[bold red]{run.scope}[/]: the check could not run: {escape(run.error)}")
        if not run.findings and not run.error:
            _stdout.print(f"[green]{run.scope}[/]: no drift ({run.seconds:.1f} s)")
        for finding in run.findings:
            where = f"{finding.facility} / {finding.host}"
            item = f" [{finding.detail}]" if finding.detail and finding.kind == "changed" else ""
            what = escape(finding.task + item)
            _stdout.print(f"[bold red]DRIFT[/] {escape(where)}: {what} ({finding.kind})")
            if finding.kind != "changed":
                _stdout.print(f"    {finding.detail}", markup=False, highlight=False)
            for line in drift_module.diff_lines(finding):
                _stdout.print(f"    {line}", markup=False, highlight=False)
    for site, why in skipped.items():
        _stdout.print(f"{site}: not checked ({why})")
    total = sum(len(run.findings) for run in runs)
    _stdout.print(
        f"drift: {total} finding(s) in {len(runs)} check(s)"
        if drift_module.drifted(runs)
        else f"no drift in {len(runs)} check(s)"
    )


@main.group()
def lab() -> None:
    """The podman lab: the inventory's hosts, networks and simulated cameras."""


@lab.command("up")
@click.argument("inventory", default="inventories/lab")
@click.option("--no-provision", is_flag=True, help="Do not install the camera simulators.")
def lab_up(inventory: str, no_provision: bool) -> None:
    """Bring the lab of INVENTORY up (idempotent)."""
    from infra.lab import lab as lab_module  # noqa: PLC0415  # podman tooling only here

    try:
        lab_module.up(inventory, log=click.echo, provision=not no_provision)
    except lab_module.LabError as error:
        raise click.ClickException(str(error)) from error


@lab.command("down")
@click.argument("inventory", default="inventories/lab")
@click.option("--purge", is_flag=True, help="Also remove the lab images and cached state.")
def lab_down(inventory: str, purge: bool) -> None:
    """Remove everything `lab up` made for INVENTORY."""
    from infra.lab import lab as lab_module  # noqa: PLC0415

    try:
        lab_module.down(inventory, log=click.echo, purge=purge)
    except lab_module.LabError as error:
        raise click.ClickException(str(error)) from error


@lab.command("status")
@click.argument("inventory", default="inventories/lab")
def lab_status(inventory: str) -> None:
    """Containers, addresses and SSH of the lab of INVENTORY; exit 1 unless all is up."""
    from infra.lab import lab as lab_module  # noqa: PLC0415

    try:
        model, hosts = lab_module.status(inventory)
    except lab_module.LabError as error:
        raise click.ClickException(str(error)) from error
    table = Table(title=f"lab {model.inventory.name}", title_justify="left")
    for column in ("host", "kind", "container", "state", "address", "ssh", "services", "ok"):
        table.add_column(column)
    for item in hosts:
        table.add_row(
            item.host.name,
            item.host.kind.value,
            item.host.container,
            item.state,
            str(item.host.address),
            "yes" if item.ssh else "no",
            item.services,
            "yes" if item.ok else "NO",
        )
    _stdout.print(table)
    proxy = model.proxy
    pid = proxy.pid()
    _stdout.print(f"package proxy {proxy.url}: {'pid ' + str(pid) if pid else 'not running'}")
    healthy = sum(item.ok for item in hosts)
    _stdout.print(f"{healthy}/{len(hosts)} hosts healthy")
    sys.exit(0 if pid and healthy == len(hosts) else 1)


@lab.command("verify")
@click.argument("inventory", default="inventories/lab")
@click.option("--site", "sites", multiple=True, help="Only these facilities (default: all).")
@click.option(
    "--wait",
    "wait_seconds",
    type=click.IntRange(min=0),
    default=180,
    show_default=True,
    help="Seconds to wait for the first segments after a rollout.",
)
def lab_verify(inventory: str, sites: tuple[str, ...], wait_seconds: int) -> None:
    """Is every camera recorded at its NVR, at central and in the WORM store? Exit 1 if not."""
    from infra.lab import lab as lab_module  # noqa: PLC0415
    from infra.lab import verify  # noqa: PLC0415

    try:
        model = lab_module.open_lab(inventory)
    except lab_module.LabError as error:
        raise click.ClickException(str(error)) from error
    unknown = set(sites) - {f.id for f in model.inventory.facilities}
    if unknown:
        raise click.BadParameter(
            f"not in the inventory: {', '.join(sorted(unknown))}", param_hint="--site"
        )
    rows = verify.wait(model, list(sites), wait_seconds)
    table = Table(title=f"Recording check, {verify.now_text()}", title_justify="left")
    for column in ("facility", "camera", "NVR segments", "newest at NVR", "central", "WORM", "ok"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row.facility,
            row.camera,
            str(row.nvr_segments),
            row.nvr_newest or "-",
            str(row.central_segments),
            str(row.stored_objects),
            ("yes" if row.ok else "NO") if row.connected else "not connected (R2)",
        )
    _stdout.print(table)
    connected = [row for row in rows if row.connected]
    good = sum(row.ok for row in connected)
    _stdout.print(
        f"{good}/{len(connected)} connected cameras recorded at the NVR, at central and in the"
        f" WORM store; {len(rows) - len(connected)} not connected (non-conforming: see"
        " reports/conformance/)"
    )
    try:
        checks = verify.viewers(model)
    except Exception as error:  # the platform's state is reported, not raised
        _stdout.print(f"viewer check: the platform did not answer ({error})")
        sys.exit(1)
    table = Table(title="Viewer check (R7): what each official sees", title_justify="left")
    for column in ("official", "role", "facilities granted", "facilities shown", "live", "ok"):
        table.add_column(column)
    for check in checks:
        table.add_row(
            check.email,
            check.role,
            ", ".join(sorted(check.expected)),
            ", ".join(sorted(check.seen)) or "-",
            ", ".join(f"{cam} {code}" for cam, code in check.live.items()) or "-",
            "yes" if check.ok else "NO",
        )
    _stdout.print(table)
    viewers_ok = bool(checks) and all(check.ok for check in checks)
    _stdout.print(
        f"viewer: {verify.platform_url(model)}/ (trust {model.state / 'ca' / 'ca.pem'}); first"
        " passwords: ansible-vault view "
        f"{model.vault_file} --vault-password-file {model.vault_password_file}"
    )
    sys.exit(0 if connected and good == len(connected) and viewers_ok else 1)


if __name__ == "__main__":
    main()
