"""Shared code of the camops modules that read the province model (controller side).

The model and its rules live in the ``infra`` package; modules that use this file run on the
Ansible controller (``delegate_to: localhost``), whose Python is the project's virtualenv.
"""

from __future__ import annotations

from typing import Any

from ansible.module_utils.camops_infra import missing

try:
    from infra.problems import Severity
    from infra.validate import validate_path

    INFRA_ERROR = ""
except ImportError as error:  # see module_utils/camops_infra.py
    INFRA_ERROR = missing(error)


def validate_inventory(path: str, strict: bool = False) -> dict[str, Any]:
    """Validate an inventory folder: the result a module returns."""
    problems = validate_path(path)
    errors = [p for p in problems if p.severity is Severity.ERROR]
    warnings = [p for p in problems if p.severity is Severity.WARNING]
    failing = errors + (warnings if strict else [])
    return {
        "valid": not failing,
        "error_lines": [p.line() for p in errors],
        "warning_lines": [p.line() for p in warnings],
        "problems": [p.as_dict() for p in problems],
    }
