"""``camops``: the command line of the camops ops library.

One module per group of commands: :mod:`infra.cli.model` (the inventory: validate, size,
access matrix, vault, accounts), :mod:`infra.cli.derived` (configuration for other tools:
Alertmanager's routing, a Pulumi stack's Ansible inventory), :mod:`infra.cli.audit` (recorded
evidence and the platform: audit, incidents) and :mod:`infra.cli.rollout` (playbooks: rollout,
verify, decommission, reactivate, drift); what they share is in :mod:`infra.cli.common`.
"""

from __future__ import annotations

import click

from infra.cli import audit, derived, model, rollout
from infra.cli.common import console, err_console, valid_inventory

__all__ = ["console", "err_console", "main", "valid_inventory"]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="camops")
def main() -> None:
    """Roll out, operate, audit and retire quarantine-facility camera systems."""


for _module in (model, derived, audit, rollout):
    for _command in _module.COMMANDS:
        main.add_command(_command)


def _plugins() -> None:
    """Command groups other installed packages add (``camops.commands`` entry points): the lab's
    ``camops lab`` for developers (``lab/``, not shipped with camops)."""
    from importlib.metadata import entry_points  # noqa: PLC0415

    for point in entry_points(group="camops.commands"):
        if point.name not in main.commands:
            main.add_command(point.load(), point.name)


_plugins()
