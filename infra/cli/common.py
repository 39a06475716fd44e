"""What the command groups of ``camops`` share: the consoles and the valid inventory."""

from __future__ import annotations

import sys

import click
from rich.console import Console

from infra import loader
from infra.model import Inventory
from infra.problems import errors
from infra.validate import validate

#: Tables and reports (standard output; 160 columns when redirected).
console = Console(width=None if sys.stdout.isatty() else 160, highlight=False)
#: Progress (standard error).
err_console = Console(stderr=True, highlight=False)


def valid_load(path: str) -> loader.LoadResult:
    """Load an inventory that must be valid, once; exit 1 listing the problems otherwise."""
    try:
        result = loader.load(path)
    except loader.InventoryNotFoundError as error:
        raise click.UsageError(str(error)) from error
    found = errors(validate(result))
    if found:
        for problem in found:
            click.echo(problem.line(), err=True)
        click.echo(f"{len(found)} error(s): run 'camops validate {path}' and fix them", err=True)
        sys.exit(1)
    assert result.inventory is not None  # noqa: S101  # an inventory that loads has no errors
    return result


def valid_inventory(path: str) -> Inventory:
    """The model of an inventory that must be valid (loaded once); exit 1 otherwise."""
    inventory = valid_load(path).inventory
    assert inventory is not None  # noqa: S101  # valid_load checked
    return inventory
