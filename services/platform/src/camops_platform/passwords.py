"""Passwords: Argon2id (argon2-cffi), a policy, and lockout after repeated failures."""

from __future__ import annotations

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


#: Verified against when the account does not exist, so timing does not tell who exists.
_DUMMY = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash("camops-dummy")


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
            PasswordHasher().verify(_DUMMY, password)
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


def after_failure(failed: int, now: datetime) -> Lockout:
    """The account's counters after one more failed login."""
    failed += 1
    return Lockout(failed, now + LOCK_TIME if failed >= MAX_FAILURES else None)
