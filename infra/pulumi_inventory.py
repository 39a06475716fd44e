"""The central stack's outputs (``pulumi stack output --json``) as an Ansible inventory file.

The file holds the central hosts and the groups the roles use (``central`` and one
``central_<role>`` per role), with the addresses the cloud gave them. Compared with the model,
it also says what province.yml must declare: a recorder the sizing added, a host whose address
or roles differ (the model stays the record; git keeps it).
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from ipaddress import IPv4Address
from pathlib import Path
from typing import Any

import yaml

from infra.model import CentralRole, Inventory

ROLES = {role.value for role in CentralRole}


class StackOutputError(ValueError):
    """The document is not the central stack's output; the message names the field."""


@dataclass(frozen=True)
class StackHost:
    hostname: str
    roles: tuple[str, ...]
    management_ip: IPv4Address
    recording_ip: IPv4Address | None
    public_ip: IPv4Address | None
    server_id: str | None
    declared: bool


def automation_outputs(stack: str, program: Path) -> dict[str, Any]:
    """A stack's outputs through Pulumi's Automation API (it drives the Pulumi CLI)."""
    if shutil.which("pulumi") is None:
        raise StackOutputError(
            f"--stack {stack}: the Pulumi CLI is not installed here (the Automation API drives "
            "it); install it (README: the central site on OpenStack), or run 'pulumi stack "
            "output --json' where it is and give that file"
        )
    from pulumi import automation  # noqa: PLC0415  # the SDK is a camops dependency

    try:
        selected = automation.select_stack(stack_name=stack, work_dir=str(program))
        return {key: item.value for key, item in selected.outputs().items()}
    except automation.errors.CommandError as error:
        raise StackOutputError(f"--stack {stack}: {error}") from None


def _address(value: Any, where: str, required: bool) -> IPv4Address | None:
    if value in (None, ""):
        if required:
            raise StackOutputError(f"{where}: missing; give the stack's output unchanged")
        return None
    try:
        return IPv4Address(str(value))
    except ValueError:
        raise StackOutputError(f"{where}: {value!r} is not an IPv4 address") from None


def hosts(document: Mapping[str, Any]) -> list[StackHost]:
    """The hosts of a stack output document, checked field by field."""
    if not isinstance(document, Mapping) or "hosts" not in document:
        raise StackOutputError(
            "hosts: not in the document; give the output of 'pulumi stack output --json' of "
            "the pulumi/central stack"
        )
    items = document["hosts"]
    if not isinstance(items, list) or not items:
        raise StackOutputError("hosts: expected a non-empty list of hosts")
    result: list[StackHost] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        where = f"hosts[{index}]"
        if not isinstance(item, Mapping):
            raise StackOutputError(f"{where}: expected a mapping")
        name = item.get("hostname")
        if not isinstance(name, str) or not name:
            raise StackOutputError(f"{where}.hostname: missing")
        if name in seen:
            raise StackOutputError(f"{where}.hostname: {name} appears twice")
        seen.add(name)
        roles = item.get("roles")
        if not isinstance(roles, list) or not roles or not set(roles) <= ROLES:
            raise StackOutputError(
                f"{where}.roles: {roles!r}; expected a list of {', '.join(sorted(ROLES))}"
            )
        management = _address(item.get("management_ip"), f"{where}.management_ip", True)
        assert management is not None  # noqa: S101  # required above
        result.append(
            StackHost(
                hostname=name,
                roles=tuple(roles),
                management_ip=management,
                recording_ip=_address(item.get("recording_ip"), f"{where}.recording_ip", False),
                public_ip=_address(item.get("public_ip"), f"{where}.public_ip", False),
                server_id=str(item["server_id"]) if item.get("server_id") else None,
                declared=bool(item.get("declared", True)),
            )
        )
    return result


def inventory_document(document: Mapping[str, Any]) -> dict[str, Any]:
    """The Ansible YAML inventory (hosts and groups) of the stack's hosts."""
    found = hosts(document)
    members: dict[str, Any] = {}
    for host in found:
        variables: dict[str, Any] = {
            "ansible_host": str(host.management_ip),
            "camops_address": str(host.management_ip),
            "camops_central_roles": list(host.roles),
        }
        if host.public_ip is not None:
            variables["camops_public_ip"] = str(host.public_ip)
        if host.recording_ip is not None:
            variables["camops_recording_ip"] = str(host.recording_ip)
        if host.server_id:
            variables["camops_server_id"] = host.server_id
        members[host.hostname] = variables
    children: dict[str, Any] = {}
    for role in sorted({role for host in found for role in host.roles}):
        children[f"central_{role}"] = {
            "hosts": {host.hostname: None for host in found if role in host.roles}
        }
    return {"all": {"children": {"central": {"hosts": members, "children": children}}}}


def render(document: Mapping[str, Any]) -> str:
    province = document.get("province", "the central stack")
    header = (
        f"# Written by 'camops pulumi-inventory' from the outputs of {province}'s central stack\n"
        "# (pulumi/central). Do not edit: run it again after 'pulumi up'.\n"
    )
    return header + yaml.safe_dump(
        inventory_document(document), sort_keys=False, allow_unicode=True, width=100
    )


def differences(document: Mapping[str, Any], inventory: Inventory) -> list[str]:
    """What province.yml must change to describe the stack's hosts (empty: it does)."""
    model = {host.hostname: host for host in inventory.province.central.hosts}
    messages = []
    for host in hosts(document):
        declared = model.get(host.hostname)
        if declared is None:
            snippet = (
                f"- hostname: {host.hostname}\n  ip: {host.management_ip}\n"
                f"  roles: [{', '.join(host.roles)}]"
            )
            messages.append(
                f"province.central.hosts: {host.hostname} ({host.management_ip}) is in the stack "
                f"but not in the model (the sizing added it); add to province.yml:\n{snippet}"
            )
            continue
        if declared.ip != host.management_ip:
            messages.append(
                f"province.central.hosts[{host.hostname}].ip: the model says {declared.ip}, the "
                f"stack {host.management_ip}: make them the same"
            )
        roles = tuple(role.value for role in declared.roles)
        if roles != host.roles:
            messages.append(
                f"province.central.hosts[{host.hostname}].roles: the model says {list(roles)}, "
                f"the stack {list(host.roles)}: run pulumi up after changing the model"
            )
    in_stack = {host.hostname for host in hosts(document)}
    messages += [
        f"province.central.hosts[{name}]: in the model but not in the stack: run pulumi up"
        for name in model
        if name not in in_stack
    ]
    return messages
