"""``camops`` commands on the inventory itself: validate, size, access-matrix, vault-init and
the §8 registration forms (accounts import, accounts export)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.table import Table

from infra import access, loader, sizing, vault
from infra.cli.common import console, valid_inventory
from infra.model import Inventory, Sizing
from infra.problems import Severity, errors
from infra.validate import validate_path


@click.command()
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


@click.command()
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
    model = valid_inventory(inventory)
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
    console.print(cameras)

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
    console.print(facilities)

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
    console.print(districts)

    central = report.central
    console.print(
        f"Central: {central.facilities} facilities, {central.cameras} cameras, "
        f"ingest {central.ingest_mbps:.1f} Mbit/s, storage {central.storage_gb:.0f} GB "
        f"({central.storage_gb / 1000:.2f} TB, headroom {central.headroom:.0%}), "
        f"recorder nodes {central.recorder_nodes} at {central.node_capacity_mbps:g} Mbit/s each"
    )


@click.command("access-matrix")
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
    model = valid_inventory(inventory)
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


@click.command("vault-init")
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
    model = valid_inventory(inventory)
    try:
        result = vault.init(model, vault_password_file, vault_file)
    except vault.VaultError as error:
        raise click.ClickException(str(error)) from error
    for name in result.added:
        click.echo(f"added {name}")
    click.echo(f"{result.file}: {len(result.added)} added, {result.kept} kept")


@click.group()
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

    model = valid_inventory(inventory)
    entries = [account.model_dump(mode="json") for account in model.accounts]
    try:
        count = forms.export_form(entries, output)
    except forms.FormError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"wrote {count} account(s) to {output}")


COMMANDS: list[click.Command] = [validate, size, access_matrix, vault_init, accounts]
