"""``camops`` commands that run playbooks against the estate: rollout, verify, decommission,
reactivate (R13, R14) and drift (R9)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from infra import playbook as runner
from infra.cli.common import console, err_console, valid_inventory, valid_load
from infra.model import Inventory

if TYPE_CHECKING:
    from infra.drift import CheckRun


def _vault_password_file(model: Inventory, given: Path | None) -> Path | None:
    """The vault's password file: the one given, else ANSIBLE_VAULT_PASSWORD_FILE's (left in
    the environment), else the lab's own for the lab inventory."""
    if given is None and "ANSIBLE_VAULT_PASSWORD_FILE" not in os.environ:
        lab_password = runner.ROOT / ".lab" / "vault-pass"
        if model.name == "lab" and lab_password.exists():
            return lab_password
    return given


def _ansible_env(model: Inventory, vault_password_file: Path | None) -> dict[str, str]:
    """This process' environment with camops' ansible.cfg (unless ANSIBLE_CONFIG names one)
    and the vault's password file."""
    return runner.environment(
        vault_password_file=_vault_password_file(model, vault_password_file), keep_config=True
    )


def _run_playbook(
    playbook: str,
    model: Inventory,
    extra_vars: dict[str, str],
    vault_password_file: Path | None,
    ansible_args: tuple[str, ...],
) -> None:
    """Run one of camops' playbooks with this environment's ansible-playbook on ``model``'s
    inventory (validated by the caller, once; the playbook validates it again on the
    controller, for those who run it without camops); exit with its code."""
    done = runner.run(
        playbook,
        inventory=Path(model.path).resolve(),
        extra_vars=extra_vars,
        args=ansible_args,
        vault_password_file=_vault_password_file(model, vault_password_file),
        keep_config=True,
        capture=False,
        echo=lambda line: click.echo(line, err=True),
    )
    sys.exit(done.returncode)


_VAULT_OPTION = click.option(
    "--vault-password-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Ansible Vault password file (default: ANSIBLE_VAULT_PASSWORD_FILE; the lab's own).",
)


def _decision_ref_option(what: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option(
        "--decision-ref", required=True, help=f'{what} E.g. "1234/QĐ-UBND ngày 15/11/2026".'
    )


def _known_site(model: Inventory, site: str) -> None:
    from infra import lifecycle  # noqa: PLC0415

    known = sorted(facility.id for facility in model.facilities)
    if site not in known:
        raise click.BadParameter(lifecycle.unknown_site(site, known), param_hint="SITE")


def _site_inventory(inventory: str, site: str) -> Inventory:
    """The inventory, validated once, holding facility ``site``."""
    model = valid_inventory(inventory)
    _known_site(model, site)
    return model


@click.command(context_settings={"ignore_unknown_options": True})
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
    model = _site_inventory(inventory, site)
    _run_playbook("site_rollout.yml", model, {"site": site}, vault_password_file, ansible_args)


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("site")
@click.option("-i", "--inventory", default="inventories/lab", show_default=True)
@_VAULT_OPTION
@click.argument("ansible_args", nargs=-1, type=click.UNPROCESSED)
def verify(
    site: str, inventory: str, vault_password_file: Path | None, ansible_args: tuple[str, ...]
) -> None:
    """Verify facility SITE (playbooks/site_verify.yml): recording at the NVR and at central,
    live view, who may watch."""
    model = _site_inventory(inventory, site)
    _run_playbook("site_verify.yml", model, {"site": site}, vault_password_file, ansible_args)


@click.command(context_settings={"ignore_unknown_options": True})
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

    loaded = valid_load(inventory)
    assert loaded.inventory is not None  # noqa: S101  # valid_load checked
    model = loaded.inventory
    try:
        request = lifecycle.check_request(loaded, site, decision, decision_ref)
    except lifecycle.LifecycleError as error:
        raise click.UsageError(str(error)) from None
    _run_playbook(
        "site_decommission.yml",
        model,
        {"site": site, "decision": decision, "decision_ref": request.decision_ref},
        vault_password_file,
        ansible_args,
    )


@click.command(context_settings={"ignore_unknown_options": True})
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

    loaded = valid_load(inventory)
    assert loaded.inventory is not None  # noqa: S101  # valid_load checked
    model = loaded.inventory
    try:
        request = lifecycle.check_request(loaded, site, "standby", decision_ref)
    except lifecycle.LifecycleError as error:
        raise click.UsageError(str(error)) from None
    status = model.facility(site).status
    if status not in {FacilityStatus.STANDBY, FacilityStatus.ACTIVE}:
        raise click.UsageError(f"{site} is {status.value}: only a facility on standby re-activates")
    if lifecycle.set_status(Path(model.path), request.facility_file, FacilityStatus.ACTIVE, ""):
        click.echo(
            f"{request.facility_file}: status active (commit it with '{request.decision_ref}')",
            err=True,
        )
    _run_playbook("site_rollout.yml", model, {"site": site}, vault_password_file, ansible_args)


@click.command(context_settings={"ignore_unknown_options": True})
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

    model = valid_inventory(inventory)
    for site in sites:
        _known_site(model, site)
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
        err_console.print(f"drift check: {scope} ...")
        run = drift_module.check(scope, path, env, list(ansible_args))
        err_console.print(
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
            console.print(f"[bold red]{run.scope}[/]: the check could not run: {escape(run.error)}")
        if not run.findings and not run.error:
            console.print(f"[green]{run.scope}[/]: no drift ({run.seconds:.1f} s)")
        for finding in run.findings:
            where = f"{finding.facility} / {finding.host}"
            item = f" [{finding.detail}]" if finding.detail and finding.kind == "changed" else ""
            what = escape(finding.task + item)
            console.print(f"[bold red]DRIFT[/] {escape(where)}: {what} ({finding.kind})")
            if finding.kind != "changed":
                console.print(f"    {finding.detail}", markup=False, highlight=False)
            for line in drift_module.diff_lines(finding):
                console.print(f"    {line}", markup=False, highlight=False)
    for site, why in skipped.items():
        console.print(f"{site}: not checked ({why})")
    total = sum(len(run.findings) for run in runs)
    console.print(
        f"drift: {total} finding(s) in {len(runs)} check(s)"
        if drift_module.drifted(runs)
        else f"no drift in {len(runs)} check(s)"
    )


COMMANDS: list[click.Command] = [rollout, verify, decommission, reactivate, drift]
