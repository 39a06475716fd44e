"""How the controller-side camops modules reach the ``infra`` package (the province model, its
rules, the vault and lifecycle code): imported at the top of the module inside
``try``/``except ImportError``, and, when it is missing, one failure that says where the module
must run. These modules run on the Ansible controller (``delegate_to: localhost``), whose
Python is the project's virtualenv; on any other Python the import fails."""

from __future__ import annotations

import sys


def missing(error: ImportError | str) -> str:
    """The message a module fails with when ``infra`` cannot be imported."""
    return (
        f"the camops package is not importable by {sys.executable} ({error}): run this module "
        "on the controller (delegate_to: localhost) with the camops virtualenv's Python — "
        "'make setup', then Ansible from the project's .venv"
    )
