"""``camops`` commands that give other tools their configuration from the model: Alertmanager's
routing (alert-routing) and the Ansible inventory of a Pulumi stack (pulumi-inventory)."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import TextIO

import click

from infra.cli.common import valid_inventory


@click.command("alert-routing")
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

    model = valid_inventory(inventory)
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


@click.command("pulumi-inventory")
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
    differences = (
        pulumi_stack.differences(document, valid_inventory(inventory)) if inventory else []
    )
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


COMMANDS: list[click.Command] = [alert_routing, pulumi_inventory]
