"""What monitoring watches and whom it tells, from the model (R3, R9, R11).

- Scrape targets (Prometheus ``file_sd`` documents): every camera of an active facility, probed
  over RTSP by the blackbox exporter through the tunnel; its site router's tunnel address
  (ICMP); the node exporters of the NVRs and the
  central hosts (the recorders' textfile metrics ride on them); the platform's HTTPS. Every
  target carries ``facility`` and ``district`` labels, which the alerts keep and the routing
  reads.
- Alertmanager's configuration: an alert about a facility goes to its duty team and to the
  telecom on-call of its district, an alert about the central site to the central on-call, all
  of them to the platform's incidents (a webhook); repeated until acknowledged in the platform
  (acknowledging silences it there).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from infra.model import Contact, Facility, FacilityStatus, Inventory

NODE_EXPORTER_PORT = 9100
#: Repeated this often until the incident is acknowledged (the platform then silences it).
REPEAT_INTERVAL = "15m"


@dataclass(frozen=True)
class Delivery:
    """Where alerts are delivered: the platform's incidents webhook and the mail relay."""

    #: None: no webhook (the platform's incidents endpoint not there yet).
    webhook_url: str | None
    smtp_smarthost: str
    smtp_from: str
    smtp_require_tls: bool = True
    webhook_ca_file: str | None = None
    #: The file holding the platform's token for the webhook (scope incidents:write).
    webhook_token_file: str | None = None


def _labels(inventory: Inventory, facility: Facility) -> dict[str, str]:
    return {
        "facility": facility.id,
        "district": facility.district,
        "district_name": inventory.district_name(facility.district),
    }


def camera_targets(inventory: Inventory, facility: Facility) -> list[dict[str, Any]]:
    """``file_sd`` groups of one facility's cameras (one group per camera: its own labels)."""
    if facility.status is not FacilityStatus.ACTIVE:
        return []
    return [
        {
            "targets": [f"{camera.ip}:{camera.rtsp_port}"],
            "labels": {**_labels(inventory, facility), "camera": camera.id},
        }
        for camera in facility.cameras
    ]


def facility_node_targets(inventory: Inventory, facility: Facility) -> list[dict[str, Any]]:
    """The NVR's node exporter (its recorders' metrics, its clock, its camera LAN watch)."""
    if facility.status is not FacilityStatus.ACTIVE:
        return []
    return [
        {
            "targets": [f"{facility.nvr.ip}:{NODE_EXPORTER_PORT}"],
            "labels": {**_labels(inventory, facility), "host": facility.nvr.hostname},
        }
    ]


def tunnel_targets(inventory: Inventory, facility: Facility) -> list[dict[str, Any]]:
    """The site router's tunnel address, pinged through the tunnel as often as the cameras are
    probed: no answer is TunnelDown (tunnel, router, uplink or the site's power), and the
    site's cameras are then not alerted one by one."""
    if facility.status is not FacilityStatus.ACTIVE:
        return []
    return [
        {
            "targets": [str(facility.router.tunnel_ip)],
            "labels": {**_labels(inventory, facility), "host": facility.router.hostname},
        }
    ]


def central_node_targets(inventory: Inventory) -> list[dict[str, Any]]:
    return [
        {
            "targets": [f"{host.ip}:{NODE_EXPORTER_PORT}"],
            "labels": {
                "host": host.hostname,
                "central_roles": ",".join(r.value for r in host.roles),
            },
        }
        for host in inventory.province.central.hosts
    ]


def _emails(contacts: list[Contact]) -> list[str]:
    return sorted({contact.email.lower() for contact in contacts})


def _receiver(name: str, emails: list[str], delivery: Delivery) -> dict[str, Any]:
    receiver: dict[str, Any] = {"name": name}
    if delivery.webhook_url:
        webhook: dict[str, Any] = {"url": delivery.webhook_url, "send_resolved": True}
        http: dict[str, Any] = {}
        if delivery.webhook_ca_file:
            http["tls_config"] = {"ca_file": delivery.webhook_ca_file}
        if delivery.webhook_token_file:
            http["authorization"] = {
                "type": "Bearer",
                "credentials_file": delivery.webhook_token_file,
            }
        if http:
            webhook["http_config"] = http
        receiver["webhook_configs"] = [webhook]
    if emails:
        receiver["email_configs"] = [
            {
                "to": ", ".join(emails),
                "send_resolved": True,
                "headers": {"Subject": '{{ template "camops.subject" . }}'},
                "html": '{{ template "camops.html" . }}',
                "text": '{{ template "camops.text" . }}',
            }
        ]
    return receiver


def alertmanager_config(
    inventory: Inventory, delivery: Delivery, templates: list[str] | None = None
) -> dict[str, Any]:
    """Alertmanager's configuration: routes per facility (duty team + the district's telecom
    on-call), the central route (central on-call), every receiver also the platform's
    incidents."""
    province = inventory.province
    oncall = {district.id: district.telecom_oncall for district in province.districts}
    central = _emails(province.central.oncall)
    receivers = [_receiver("central", central, delivery)]
    routes = []
    for facility in sorted(inventory.facilities, key=lambda item: item.id):
        if facility.status is not FacilityStatus.ACTIVE:
            continue
        # Nobody named for the facility: its alerts reach the central on-call (validation warns).
        people = _emails(facility.duty_team + oncall.get(facility.district, [])) or central
        name = f"facility-{facility.id}"
        receivers.append(_receiver(name, people, delivery))
        routes.append(
            {"receiver": name, "matchers": [f'facility="{facility.id}"'], "continue": False}
        )
    return {
        "global": {
            "smtp_smarthost": delivery.smtp_smarthost,
            "smtp_from": delivery.smtp_from,
            "smtp_require_tls": delivery.smtp_require_tls,
            "resolve_timeout": "5m",
        },
        "templates": templates or [],
        "route": {
            "receiver": "central",
            "group_by": ["alertname", "facility", "camera", "instance"],
            "group_wait": "10s",
            "group_interval": "1m",
            "repeat_interval": REPEAT_INTERVAL,
            "routes": routes,
        },
        # A camera down because its tunnel is down: the tunnel's alert says it all.
        "inhibit_rules": [
            {
                "source_matchers": ['alertname="TunnelDown"'],
                "target_matchers": ['alertname=~"CameraDown|RecordingStalled"'],
                "equal": ["facility"],
            }
        ],
        "receivers": receivers,
    }
