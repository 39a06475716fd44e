"""Outages on the lab, end to end (R3, R11): a camera stops (its container paused: no answer at
all, as a dead camera or a cut cable), or a facility's tunnel (WireGuard stopped on its site
router, as when the WAN line fails); Prometheus' probe fails, Alertmanager delivers to the
platform's incidents and to the mailbox of the lab's mail relay; the camera or the tunnel comes
back and the incident resolves with its duration.

Used by ``bench/outage_alert.py`` (timed) and the lab tests. Everything is read through the
real paths: the platform's API with the vault's incidents token over its HTTPS, the mailbox on
the monitoring host over SSH.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import ipaddress
import json
import mailbox
import secrets
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from camops_lab.lab import CONTAINER_LIMITS, Lab
from camops_lab.plan import PREFIX, LabHost, NetKind
from camops_lab.verify import platform_url
from infra import vault
from infra.model import CentralRole

MAILBOX = "/var/mail/camops-mail"


class OutageError(RuntimeError):
    """The outage was not seen as expected; the message says what was missing."""


@dataclass
class Outage:
    #: The camera stopped (empty for a tunnel outage).
    camera: str
    facility: str
    alertname: str = "CameraDown"
    incident: dict[str, Any] = field(default_factory=dict)
    mails: list[dict[str, str]] = field(default_factory=list)
    #: Seconds from the stop to the incident in the platform, and to the mail.
    to_incident_s: float = 0.0
    to_mail_s: float = 0.0
    #: Seconds from the return to the incident resolved.
    to_resolved_s: float = 0.0
    #: Other alerts' incidents of the facility opened meanwhile (a tunnel outage: none).
    others: list[dict[str, Any]] = field(default_factory=list)

    def concerns(self, row: dict[str, Any]) -> bool:
        """An incident row is this outage's."""
        return (
            row["alertname"] == self.alertname
            and row["facility_id"] == self.facility
            and (row["camera"] or "") == self.camera
        )


def monitoring_host(lab: Lab) -> LabHost:
    central = next(
        host
        for host in lab.inventory.province.central.hosts
        if CentralRole.MONITORING in host.roles
    )
    return lab.plan.host(central.hostname)


def _ssh(lab: Lab, host: LabHost, command: str) -> str:
    run = subprocess.run(  # noqa: S603  # the lab's own ssh arguments
        [*lab.shell_args(host), command], capture_output=True, text=True, check=False, timeout=60
    )
    if run.returncode != 0:
        raise OutageError(f"{host.name}: {command!r} failed: {run.stderr.strip()[-300:]}")
    return run.stdout


def incidents(lab: Lab, **query: str) -> list[dict[str, Any]]:
    """The platform's incidents, through its API with the vault's incidents token."""
    from infra.platform_client import PlatformClient, PlatformError  # noqa: PLC0415

    token = vault.read(lab.vault_file, lab.vault_password_file).get(
        "vault_platform_token_incidents"
    )
    if not token:
        raise OutageError("vault_platform_token_incidents is not in the lab's vault")
    with PlatformClient(
        platform_url(lab), token=token, ca_file=lab.state / "ca" / "ca.pem", timeout=15
    ) as client:
        try:
            return list(client.get("/api/v1/incidents", query))
        except PlatformError as error:
            if error.status is None:
                raise  # no answer at all
            raise OutageError(
                f"GET /api/v1/incidents: HTTP {error.status} {error.detail}"
            ) from error


def mails(lab: Lab) -> list[dict[str, str]]:
    """The messages in the lab's mailbox (subject, to, body), oldest first."""
    text = _ssh(lab, monitoring_host(lab), f"sudo cat {MAILBOX} 2>/dev/null || true")
    if not text.strip():
        return []
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "mbox"
        path.write_text(text, encoding="utf-8")
        found = []
        for message in mailbox.mbox(str(path)):
            parsed = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
            body = parsed.get_body(preferencelist=("plain", "html"))
            found.append(
                {
                    "subject": str(parsed["Subject"] or ""),
                    "to": str(parsed["To"] or ""),
                    "body": body.get_content() if body is not None else "",
                }
            )
    return found


def _until(what: str, check: Callable[[], Any], timeout: float, every: float = 1.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise OutageError(f"{what}: not seen within {timeout:.0f} s")
        time.sleep(every)


def _podman(*args: str, check: bool = True) -> None:
    subprocess.run(["podman", *args], check=check, capture_output=True)  # noqa: S603, S607


def _pause(host: LabHost, paused: bool) -> None:
    _podman("pause" if paused else "unpause", host.container)


def camera_outage(lab: Lab, camera: str, timeout: float = 180) -> Outage:
    """Stop ``camera`` (its container paused: no answer at all) until its incident is in the
    platform and its mail in the mailbox, then bring it back until the incident is resolved.
    Times are measured from the stop and from the return. The camera comes back whatever
    happens."""
    host = lab.plan.host(camera)
    facility = next(f.id for f in lab.inventory.facilities if camera in {c.id for c in f.cameras})
    return _timed(
        lab,
        Outage(camera, facility),
        stop=lambda: _pause(host, paused=True),
        start=lambda: _pause(host, paused=False),
        mailed=lambda m: camera in m["subject"] or camera in m["body"],
        timeout=timeout,
    )


def tunnel_outage(lab: Lab, facility: str, timeout: float = 180) -> Outage:
    """Cut ``facility``'s tunnel (WireGuard stopped on its site router, as when its WAN line
    fails) until TunnelDown's incident is in the platform and its mail in the mailbox, then
    bring it back until the incident is resolved. ``others``: the facility's other incidents
    opened meanwhile (its cameras must not raise their own)."""
    router = next(f.router.hostname for f in lab.inventory.facilities if f.id == facility)
    host = lab.plan.host(router)
    unit = "wg-quick@wg0.service"
    return _timed(
        lab,
        Outage("", facility, alertname="TunnelDown"),
        stop=lambda: _ssh(lab, host, f"sudo systemctl stop {unit}"),
        start=lambda: _ssh(lab, host, f"sudo systemctl start {unit}"),
        mailed=lambda m: "TunnelDown" in m["subject"] and facility in m["body"],
        timeout=timeout,
    )


def _timed(
    lab: Lab,
    outage: Outage,
    *,
    stop: Callable[[], object],
    start: Callable[[], object],
    mailed: Callable[[dict[str, str]], bool],
    timeout: float,
) -> Outage:
    what = outage.camera or f"{outage.facility}'s tunnel"
    before = incidents(lab, status="unresolved")
    for row in before:
        if outage.concerns(row):
            raise OutageError(f"{what} already has an unresolved incident ({row['id']})")
    known = {row["id"] for row in incidents(lab, facility=outage.facility)}
    mails_before = len(mails(lab))

    def opened() -> dict[str, Any] | None:
        return next((r for r in incidents(lab, status="unresolved") if outage.concerns(r)), None)

    def both() -> bool:
        """Each delivery timed when first seen (whichever comes first)."""
        if not outage.incident:
            outage.incident = opened() or {}
            outage.to_incident_s = time.monotonic() - stopped
        if not outage.mails:
            outage.mails = [m for m in mails(lab)[mails_before:] if mailed(m)]
            outage.to_mail_s = time.monotonic() - stopped
        return bool(outage.incident and outage.mails)

    stopped = time.monotonic()
    stop()
    try:
        _until(f"{what}: the incident in the platform and the alert mail", both, timeout)
    except OutageError as error:
        seen = "incident" if outage.incident else "mail" if outage.mails else "neither"
        raise OutageError(f"{error} (seen: {seen})") from error
    finally:
        start()
    back = time.monotonic()
    incident_id = outage.incident["id"]

    def resolved() -> dict[str, Any] | None:
        rows = incidents(lab, status="resolved")
        return next((row for row in rows if row["id"] == incident_id), None)

    outage.incident = _until(f"{what}: incident {incident_id} resolved", resolved, timeout)
    outage.to_resolved_s = time.monotonic() - back
    outage.others = [
        row
        for row in incidents(lab, facility=outage.facility)
        if row["id"] not in known and row["id"] != incident_id
    ]
    return outage


@contextlib.contextmanager
def intruder(lab: Lab, facility: str, address: str) -> Iterator[str]:
    """An unknown device plugged into ``facility``'s camera LAN at ``address`` (a container of
    the lab's base image, idle, with a MAC address no inventory lists); removed afterwards.
    Yields its MAC address."""
    network = lab.plan.network(NetKind.LAN, facility)
    if ipaddress.ip_address(address) not in network.subnet:
        raise OutageError(f"{address} is not on {facility}'s camera LAN {network.subnet}")
    mac = "02:00:5e:" + ":".join(f"{b:02x}" for b in secrets.token_bytes(3))
    name = f"{PREFIX}-intruder-{facility.replace('_', '-')}"
    _podman("rm", "-f", name, check=False)
    _podman(
        "run",
        "-d",
        "--name",
        name,
        "--label",
        f"camops.lab={lab.inventory.name}",
        *CONTAINER_LIMITS,
        "--cap-add",
        "NET_ADMIN",
        "--network",
        f"{network.name}:ip={address},mac={mac}",
        "--dns",
        "127.0.0.1",
        "--entrypoint",
        "/bin/sleep",
        f"{PREFIX}-base:latest",
        "infinity",
    )
    try:
        # The lab's networks leave addressing to the hosts (no IPAM): the device takes its own.
        prefix = network.subnet.prefixlen
        _podman("exec", name, "ip", "addr", "add", f"{address}/{prefix}", "dev", "eth0")
        yield mac
    finally:
        _podman("rm", "-f", "-t", "0", name, check=False)


def alerts(lab: Lab, name: str) -> list[dict[str, Any]]:
    """Prometheus' firing or pending alerts called ``name`` (its API on the monitoring host)."""
    text = _ssh(
        lab,
        monitoring_host(lab),
        "python3 -c 'import urllib.request; print(urllib.request.urlopen("
        '"http://127.0.0.1:9090/api/v1/alerts", timeout=10).read().decode())\'',
    )
    found = json.loads(text)["data"]["alerts"]
    return [alert for alert in found if alert["labels"].get("alertname") == name]
