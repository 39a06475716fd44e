"""Problems found in an inventory: one line each, naming the file, the field path and the fix."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, order=True)
class Problem:
    """One finding. ``rule`` is a requirement id (R1, R4, R6, R7) or a check family."""

    file: str
    path: str
    rule: str
    message: str
    fix: str
    severity: Severity = Severity.ERROR

    def line(self) -> str:
        where = f"{self.file}: {self.path}" if self.path else self.file
        return f"{self.severity.upper()} [{self.rule}] {where}: {self.message}; fix: {self.fix}"

    def as_dict(self) -> dict[str, str]:
        return {key: str(value) for key, value in asdict(self).items()}


def errors(problems: list[Problem]) -> list[Problem]:
    return [problem for problem in problems if problem.severity is Severity.ERROR]


def warnings(problems: list[Problem]) -> list[Problem]:
    return [problem for problem in problems if problem.severity is Severity.WARNING]
