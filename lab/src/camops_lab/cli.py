"""``camops lab``: the podman lab for developers (a plugin of the ``camops`` command line).

The lab is a test fixture, not part of the shipped ``camops`` package: this package
(``lab/``, installed by ``make setup``) adds the ``lab`` group to ``camops`` through the
``camops.commands`` entry point.
"""

from __future__ import annotations

import sys

import click
from rich.console import Console
from rich.table import Table

from camops_lab import lab as lab_module
from camops_lab import verify

_stdout = Console(width=None if sys.stdout.isatty() else 160, highlight=False)


@click.group()
def lab() -> None:
    """The podman lab: the inventory's hosts, networks and simulated cameras."""


@lab.command("up")
@click.argument("inventory", default="inventories/lab")
@click.option("--no-provision", is_flag=True, help="Do not install the camera simulators.")
def lab_up(inventory: str, no_provision: bool) -> None:
    """Bring the lab of INVENTORY up (idempotent)."""

    try:
        lab_module.up(inventory, log=click.echo, provision=not no_provision)
    except lab_module.LabError as error:
        raise click.ClickException(str(error)) from error


@lab.command("down")
@click.argument("inventory", default="inventories/lab")
@click.option("--purge", is_flag=True, help="Also remove the lab images and cached state.")
def lab_down(inventory: str, purge: bool) -> None:
    """Remove everything `lab up` made for INVENTORY."""

    try:
        lab_module.down(inventory, log=click.echo, purge=purge)
    except lab_module.LabError as error:
        raise click.ClickException(str(error)) from error


@lab.command("status")
@click.argument("inventory", default="inventories/lab")
def lab_status(inventory: str) -> None:
    """Containers, addresses and SSH of the lab of INVENTORY; exit 1 unless all is up."""

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
