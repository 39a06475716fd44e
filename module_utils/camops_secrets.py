"""Shared by the camops modules that hold device passwords: the credential, and the one way
any text leaving a module has those passwords replaced (plain and percent-encoded, as they
appear in URLs)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote

MASK = "********"


@dataclass(frozen=True)
class Credential:
    username: str
    password: str


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every secret (longest first, so none leaves a tail of another) replaced."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, MASK).replace(quote(secret, safe=""), MASK)
    return text
