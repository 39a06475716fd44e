"""People's accounts and passwords (the accounts playbook's token), and the facilities' grants
(``district:<id>``), which decide what the accounts may watch (R7)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Header, HTTPException, Request, status
from pydantic import BaseModel, Field

from camops_platform import store
from camops_platform.deps import CatalogReader, CatalogWriter, Conn, automation, client_ip
from camops_platform.routers.common import Changed, Strict, put

router = APIRouter()


class Account(Strict):
    full_name: str = Field(min_length=1)
    position: str = Field(min_length=1)
    unit: str = Field(min_length=1)
    phone: str = Field(min_length=1)
    note: str = ""
    role: Literal["provincial_steering", "district_leader", "ops_engineer", "auditor"]
    scope: str = "province"
    enabled: bool = True


class StoredAccount(Account):
    """An account as stored, and whether its person has a password yet (never the hash)."""

    has_password: bool


class NewPassword(Strict):
    password: str = Field(max_length=1024)


class GrantSet(Strict):
    grantees: list[str] = Field(
        max_length=200, description="exactly the grantees wanted, e.g. district:<district id>"
    )


class GrantChange(BaseModel):
    changed: bool
    created: bool
    added: list[str]
    removed: list[str]


# Grants ---------------------------------------------------------------------------------------


@router.get(
    "/api/v1/facilities/{facility_id}/grants",
    tags=["catalog"],
    responses={404: {"description": "no such facility"}},
)
def get_grants(facility_id: str, conn: Conn, actor: CatalogReader) -> GrantSet:
    """Who the facility is granted to (``district:<id>``; the steering committee sees all)."""
    del actor
    found = store.grantees(conn, facility_id)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no facility {facility_id}")
    return GrantSet(grantees=found)


@router.put(
    "/api/v1/facilities/{facility_id}/grants",
    tags=["catalog"],
    responses={404: {"description": "no such facility"}},
)
def put_grants(
    facility_id: str,
    body: GrantSet,
    request: Request,
    conn: Conn,
    *,
    actor: CatalogWriter,
    x_real_ip: Annotated[str | None, Header()] = None,
) -> GrantChange:
    """Set exactly these grantees (an empty list removes every grant); audited when changed."""
    problems = store.grantee_problems(conn, body.grantees)
    if problems:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "grantees: " + "; ".join(problems)
        )
    result = store.set_grants(
        conn, facility_id, body.grantees, actor=actor, source_ip=client_ip(request, x_real_ip)
    )
    if result is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no facility {facility_id}")
    return GrantChange(
        changed=result.changed, created=result.created, added=result.added, removed=result.removed
    )


# Accounts -------------------------------------------------------------------------------------


@router.put("/api/v1/accounts/{email}", tags=["accounts"])
def put_account(
    email: str, body: Account, conn: Conn, actor: Annotated[str, automation("accounts:write")]
) -> Changed:
    """Create or update a person's account (§8 fields, role, scope, enabled)."""
    if body.role == "district_leader" and not body.scope.startswith("district:"):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "scope: a district leader's scope is district:<id>",
        )
    return put(conn, "account", email.lower(), body, actor)


@router.get("/api/v1/accounts", tags=["accounts"])
def list_accounts(
    conn: Conn, actor: Annotated[str, automation("accounts:write")]
) -> dict[str, StoredAccount]:
    """Every account by e-mail (the accounts playbook disables people no longer on a form)."""
    del actor
    return {email: StoredAccount(**row) for email, row in store.stored_accounts(conn).items()}


@router.get("/api/v1/accounts/{email}", tags=["accounts"])
def get_account(
    email: str, conn: Conn, actor: Annotated[str, automation("accounts:write")]
) -> StoredAccount:
    """A person's account as stored (what the accounts playbook compares with)."""
    del actor  # the token's scope is checked; reading is not audited
    row = store.stored_account(conn, email.lower())
    if row is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no account {email}")
    return StoredAccount(**row)


@router.put("/api/v1/accounts/{email}/password", status_code=204, tags=["accounts"])
def put_password(
    email: str, body: NewPassword, conn: Conn, actor: Annotated[str, automation("accounts:write")]
) -> None:
    problems = store.set_password(conn, email, body.password, actor=actor)
    if problems == ["no such account"]:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no account {email}")
    if problems:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT, "password: " + "; ".join(problems)
        )
