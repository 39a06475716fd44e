"""What the command groups of ``camops`` share: the consoles and the valid inventory."""

from __future__ import annotations

import sys

import click
from rich.console import Console

from infra import loader
from infra.model import Inventory
from infra.problems import errors
from infra.validate import validate_path

#: Tables and reports (standard output; 160 columns when redirected).
console = Console(width=None if sys.stdout.isatty() else 160, highlight=False)
#: Progress (standard error).
err_console = Console(stderr=True, highlight=False)


def valid_inventory(path: str) -> Inventory:
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
