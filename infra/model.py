"""The camops model of a province: districts, facilities, cameras, NVRs, routers, accounts.

Structural rules (types, required fields, ranges) live here as pydantic models. Rules that
need the whole province (duplicates, R1 zones, R7 scopes, addressing) live in
:mod:`infra.validate`, so one bad field never hides the other problems of an inventory.
"""

from __future__ import annotations

import re
from enum import StrEnum
from ipaddress import IPv4Address, IPv4Interface, IPv4Network
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: Directive §1, §3: recordings are kept at least 30 days.
MIN_RETENTION_DAYS = 30

IDENTIFIER_RE = r"^[a-z][a-z0-9_]*$"
HOSTNAME_RE = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
VAULT_REF_RE = r"^vault_[a-z0-9_]+$"

Identifier = Annotated[str, Field(pattern=IDENTIFIER_RE, min_length=2, max_length=48)]
Hostname = Annotated[str, Field(pattern=HOSTNAME_RE)]
Text = Annotated[str, Field(min_length=1, max_length=200)]
Port = Annotated[int, Field(ge=1, le=65535)]


class Strict(BaseModel):
    """Base of every model: unknown fields are errors (a typo must not pass silently)."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class Operator(StrEnum):
    """Who runs a facility (directive §II.7e)."""

    DISTRICT = "district"
    MILITARY_COMMAND = "military_command"


class FacilityStatus(StrEnum):
    ACTIVE = "active"
    STANDBY = "standby"
    HANDED_OVER = "handed_over"
    REMOVED = "removed"


class RouterPlatform(StrEnum):
    LINUX = "linux"
    CISCO_IOS = "cisco_ios"
    HUAWEI_VRP = "huawei_vrp"
    MIKROTIK_ROUTEROS = "mikrotik_routeros"


class Codec(StrEnum):
    H264 = "h264"
    H265 = "h265"


class Role(StrEnum):
    """Account roles. R7 (a), (b), (c) plus the operators and auditors of the platform."""

    PROVINCIAL_STEERING = "provincial_steering"  # R7a: every facility of the province
    DISTRICT_LEADER = "district_leader"  # R7b: facilities run by their district
    FACILITY_STAFF = "facility_staff"  # R7c: local screen only, never a remote account
    OPS_ENGINEER = "ops_engineer"  # telecom / DIC operators: infrastructure, no video
    AUDITOR = "auditor"  # reads access logs and reports, no video


class CentralRole(StrEnum):
    PLATFORM = "platform"
    RECORDER = "recorder"
    OBJECT_STORE = "object_store"
    MONITORING = "monitoring"
    WIREGUARD_HUB = "wireguard_hub"


class Resolution(Strict):
    width: int = Field(ge=160, le=7680)
    height: int = Field(ge=120, le=4320)

    @model_validator(mode="before")
    @classmethod
    def _parse(cls, value: Any) -> Any:
        if isinstance(value, str):
            match = re.fullmatch(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*", value)  # noqa: RUF001  # accept the multiplication sign
            if not match:
                raise ValueError("write the resolution as WIDTHxHEIGHT, for example 1920x1080")
            return {"width": int(match.group(1)), "height": int(match.group(2))}
        return value

    def __str__(self) -> str:
        return f"{self.width}x{self.height}"


class Camera(Strict):
    id: Identifier
    name: Text
    zone: Text
    location: str = ""
    ip: IPv4Address
    mac: str
    vendor: Text
    model: Text
    onvif_port: Port = 80
    rtsp_port: Port = 554
    rtsp_path: str = Field(pattern=r"^/\S*$")
    resolution: Resolution
    fps: int = Field(ge=1, le=60)
    bitrate_kbps: int = Field(ge=64, le=50_000)
    codec: Codec = Codec.H264
    credential: str
    retention_days: int | None = None

    @property
    def rtsp_url(self) -> str:
        """The stream address, never with credentials in it."""
        return f"rtsp://{self.ip}:{self.rtsp_port}{self.rtsp_path}"


class Nvr(Strict):
    hostname: Hostname
    ip: IPv4Address
    storage_gb: int | None = Field(default=None, ge=1)
    credential: str | None = None


class Router(Strict):
    hostname: Hostname
    platform: RouterPlatform = RouterPlatform.LINUX
    lan_ip: IPv4Address
    wan_ip: IPv4Interface
    tunnel_ip: IPv4Address
    credential: str | None = None


class Contact(Strict):
    """Someone alerts reach (R3, R11): by e-mail, and by phone for a call-out."""

    name: Text
    phone: Text
    email: Text


class Facility(Strict):
    id: Identifier
    name: Text
    district: Identifier
    operator: Operator = Operator.DISTRICT
    address: Text
    capacity: int = Field(ge=1, description="persons the facility can quarantine")
    status: FacilityStatus = FacilityStatus.ACTIVE
    status_ref: str = ""
    retention_days: int | None = None
    camera_subnet: IPv4Network
    uplink_mbps: float | None = Field(default=None, gt=0)
    nvr: Nvr
    router: Router
    cameras: list[Camera] = Field(default_factory=list)
    duty_team: list[Contact] = Field(
        default_factory=list,
        description=(
            "the facility's duty team (tổ trực): alerts about it reach them, to put the "
            "substitute measure in place (R11)"
        ),
    )


class District(Strict):
    id: Identifier
    name: Text
    telecom_oncall: list[Contact] = Field(
        default_factory=list,
        description="the telecom's on-call engineers for the district's facilities (R3)",
    )


class CentralHost(Strict):
    hostname: Hostname
    ip: IPv4Address
    roles: list[CentralRole] = Field(min_length=1)


class WireGuard(Strict):
    subnet: IPv4Network
    hub_ip: IPv4Address
    endpoint: str = Field(description="host:port that site routers dial")
    port: Port = 51820


class Central(Strict):
    network: IPv4Network
    hosts: list[CentralHost] = Field(min_length=1)
    wireguard: WireGuard
    oncall: list[Contact] = Field(
        default_factory=list,
        description="the central site's on-call engineers (platform, recorders, the hub)",
    )
    ops_ranges: list[IPv4Network] = Field(
        default_factory=list,
        description=(
            "where ops engineers' SSH comes from over a site's WAN (the bastion's addresses); "
            "empty: site routers accept SSH only through the tunnel"
        ),
    )


class Sizing(Strict):
    """Planning factors for ``camops size``."""

    headroom: float = Field(default=0.2, ge=0, le=5, description="extra storage fraction")
    uplink_overhead: float = Field(default=0.15, ge=0, le=5, description="tunnel + RTSP")
    recorder_node_capacity_mbps: float = Field(default=400, gt=0)
    recorder_min_nodes: int = Field(default=2, ge=1)


class Province(Strict):
    code: Identifier
    name: Text
    retention_days: int = MIN_RETENTION_DAYS
    email_domains: list[str] = Field(default_factory=lambda: ["gov.vn"], min_length=1)
    districts: list[District] = Field(min_length=1)
    central: Central
    sizing: Sizing = Field(default_factory=Sizing)

    @field_validator("email_domains")
    @classmethod
    def _domains(cls, value: list[str]) -> list[str]:
        return [domain.strip().lstrip(".").lower() for domain in value]


class Account(Strict):
    """One person's account, with the fields of the directive's §8 registration form."""

    stt: int | None = Field(default=None, ge=1, description="row number (Stt) of the form")
    full_name: Text
    position: Text
    unit: Text
    phone: Text
    email: Text
    note: str = ""
    role: Role
    scope: str = "province"
    enabled: bool = True

    @property
    def district(self) -> str | None:
        """The district of a ``district:<id>`` scope."""
        if self.scope.startswith("district:"):
            return self.scope.split(":", 1)[1]
        return None


class Inventory(BaseModel):
    """A loaded inventory: the province, its facilities and accounts."""

    model_config = ConfigDict(frozen=True)

    name: str
    path: str
    province: Province
    facilities: list[Facility]
    accounts: list[Account]

    def facility(self, facility_id: str) -> Facility:
        for facility in self.facilities:
            if facility.id == facility_id:
                return facility
        raise KeyError(facility_id)

    def district_name(self, district_id: str) -> str:
        for district in self.province.districts:
            if district.id == district_id:
                return district.name
        return district_id

    def retention_days(self, facility: Facility, camera: Camera | None = None) -> int:
        """Effective retention: the longest of province, facility and camera settings."""
        days = [self.province.retention_days]
        if facility.retention_days is not None:
            days.append(facility.retention_days)
        if camera is not None and camera.retention_days is not None:
            days.append(camera.retention_days)
        return max(days)
