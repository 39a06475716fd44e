"""Passwords: Argon2id (argon2-cffi), a policy, and lockout after repeated failures."""

from __future__ import annotations

import contextlib
import functools
import os
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH = 12
#: Lockout: this many failures in a row lock the account for LOCK_TIME.
MAX_FAILURES = 5
LOCK_TIME = timedelta(minutes=15)


def hasher() -> PasswordHasher:
    """Argon2id with argon2-cffi's defaults (RFC 9106 low-memory profile).

    ``CAMOPS_PLATFORM_FAST_HASH=1`` (tests only) lowers the cost; hashes made so are rehashed
    at the next login with the normal cost (``check_needs_rehash``).
    """
    if os.environ.get("CAMOPS_PLATFORM_FAST_HASH") == "1":
        return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    return PasswordHasher()


@functools.cache
def _dummy(parameters: tuple[int, int, int]) -> str:
    """A hash made with the cost real hashes have (``parameters``: Argon2 time, memory,
    parallelism), verified against when no real hash may be checked (an unknown, disabled or
    locked account), so the answer takes as long whoever asks: timing tells nobody which
    accounts exist or are locked."""
    time_cost, memory_cost, parallelism = parameters
    return PasswordHasher(time_cost, memory_cost, parallelism).hash("camops-dummy")


def same_work(password: str) -> None:
    """Spend what checking ``password`` against a real hash costs, and learn nothing."""
    current = hasher()
    with contextlib.suppress(VerifyMismatchError, VerificationError, InvalidHashError):
        current.verify(
            _dummy((current.time_cost, current.memory_cost, current.parallelism)), password
        )


def policy_problems(password: str, *, email: str = "", full_name: str = "") -> list[str]:
    """Why a password is not acceptable (empty when it is)."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(f"at least {MIN_LENGTH} characters")
    classes = sum(
        (
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        )
    )
    if classes < 3:
        problems.append("at least three of: lower case, upper case, digits, symbols")
    lowered = password.lower()
    local = email.split("@", 1)[0].lower()
    if local and len(local) >= 3 and local in lowered:
        problems.append("must not contain the e-mail name")
    for part in full_name.lower().split():
        if len(part) >= 4 and part in lowered:
            problems.append("must not contain the person's name")
            break
    return problems


def hash_password(password: str) -> str:
    return hasher().hash(password)


def check(stored: str | None, password: str) -> bool:
    """True when the password matches the stored hash (False for no hash at all)."""
    try:
        if stored is None:
            same_work(password)
            return False
        return hasher().verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    return hasher().check_needs_rehash(stored)


@dataclass(frozen=True)
class Lockout:
    failed: int
    locked_until: datetime | None


def after_failure(failed: int, now: datetime, locked_until: datetime | None = None) -> Lockout:
    """The account's counters after one more failed login.

    A lock that has ended starts the count again: one wrong try after it does not lock the
    account once more (else anyone knowing an e-mail could keep its owner locked out with a
    try every LOCK_TIME).
    """
    if locked_until is not None and locked_until <= now:
        failed = 0
    failed += 1
    return Lockout(failed, now + LOCK_TIME if failed >= MAX_FAILURES else None)
