#!/usr/bin/python3
"""camops lab camera simulator: RTSP server and ONVIF device service in one process.

LAB FIXTURE — installed on the lab's camera hosts by the ``lab_camera`` role; not product code.

RTSP (GStreamer): H.264 with RTSP digest authentication against the camera's users.
  - live mode (default): a cheap test pattern with the camera id and a running clock, encoded
    with the encoder settings of the camera's state (resolution, frame rate, bit rate);
  - replay mode: a pre-encoded H.264 clip served as it is (no re-encoding), looped, for load
    tests.
ONVIF: no installable package answers ONVIF writes, so a small SOAP 1.2 service stands in for
  the camera's firmware (see ``Device``), with WS-Security UsernameToken digest.

State (users, NTP, clock, encoder) persists in a JSON file as a real camera keeps it in flash;
a password changed over ONVIF is the new RTSP password within half a second.

Usage: camsim serve | camsim factory-reset | camsim ensure-user USER < password
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

CONFIG = os.environ.get("CAMSIM_CONFIG", "/etc/camsim.json")
STATE = os.environ.get("CAMSIM_STATE", "/var/lib/camsim/state.json")

_lock = threading.Lock()
#: Called after the state is saved; the RTSP server applies the change before it returns.
_listeners: list[Any] = []


def load_config() -> dict[str, Any]:
    return dict(json.loads(Path(CONFIG).read_text(encoding="utf-8")))


def factory_state(config: dict[str, Any]) -> dict[str, Any]:
    """What the camera holds when it leaves the factory (or after a factory reset)."""
    factory = config["factory"]
    return {
        "users": [
            {
                "username": factory["username"],
                "password": factory["password"],
                "level": "Administrator",
            }
        ],
        "ntp": {"from_dhcp": False, "servers": []},
        "datetime_type": "Manual",
        "clock_offset_s": float(factory.get("clock_offset_s", 0)),
        "encoder": _within_capabilities(config, dict(factory["encoder"])),
    }


def _within_capabilities(config: dict[str, Any], encoder: dict[str, Any]) -> dict[str, Any]:
    """The factory encoder, limited to what the camera can do (an outdated camera's)."""
    sizes, max_fps = capabilities(config)
    if (int(encoder["width"]), int(encoder["height"])) not in sizes:
        encoder["width"], encoder["height"] = sizes[0]
    encoder["fps"] = min(int(encoder["fps"]), max_fps)
    return encoder


def load_state(config: dict[str, Any]) -> dict[str, Any]:
    with _lock:
        try:
            return dict(json.loads(Path(STATE).read_text(encoding="utf-8")))
        except FileNotFoundError:
            state = factory_state(config)
            _write(state)
            return state


def save_state(state: dict[str, Any]) -> None:
    with _lock:
        _write(state)
    for listener in _listeners:
        listener()


def _write(state: dict[str, Any]) -> None:
    folder = Path(STATE).parent
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=folder, prefix=".state-")
    tmp = Path(name)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(state, handle, indent=2, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.chmod(0o600)
    tmp.replace(STATE)


NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "wsse": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd",
    "wsu": "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd",
    "tds": "http://www.onvif.org/ver10/device/wsdl",
    "trt": "http://www.onvif.org/ver10/media/wsdl",
    "tt": "http://www.onvif.org/ver10/schema",
    "ter": "http://www.onvif.org/ver10/error",
}
OPEN_OPERATIONS = {"GetSystemDateAndTime", "GetCapabilities", "GetServices", "GetHostname"}
ADMIN_OPERATIONS = {
    "SetSystemDateAndTime",
    "SetNTP",
    "CreateUsers",
    "SetUser",
    "DeleteUsers",
    "SetVideoEncoderConfiguration",
}
RESOLUTIONS = [(640, 360), (1280, 720), (1920, 1080)]
MAX_FPS = 30


def capabilities(config: dict[str, Any]) -> tuple[list[tuple[int, int]], int]:
    """(resolutions, max frame rate) the encoder can do: the config's ``capabilities`` (an
    outdated camera for conformance tests) or a current camera's."""
    declared = config.get("capabilities") or {}
    sizes = [(int(w), int(h)) for w, h in declared.get("resolutions") or RESOLUTIONS]
    return sizes, int(declared.get("max_fps") or MAX_FPS)


MAX_SKEW = timedelta(minutes=5)


class Fault(Exception):  # noqa: N818  # a SOAP Fault
    def __init__(self, code: str, subcode: str, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.code, self.subcode, self.reason, self.status = code, subcode, reason, status


def _text(node: ET.Element | None, path: str, default: str = "") -> str:
    if node is None:
        return default
    found = node.find(path, NS)
    return (found.text or "").strip() if found is not None and found.text else default


def envelope(body: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<s:Envelope xmlns:s="{NS["s"]}" xmlns:tds="{NS["tds"]}" xmlns:trt="{NS["trt"]}" '
        f'xmlns:tt="{NS["tt"]}" xmlns:ter="{NS["ter"]}"><s:Body>{body}</s:Body></s:Envelope>'
    ).encode()


def fault_body(fault: Fault) -> str:
    return (
        f"<s:Fault><s:Code><s:Value>s:{fault.code}</s:Value><s:Subcode><s:Value>"
        f"ter:{fault.subcode}</s:Value></s:Subcode></s:Code><s:Reason>"
        f'<s:Text xml:lang="en">{escape(fault.reason)}</s:Text></s:Reason></s:Fault>'
    )


class Device:
    """The camera's firmware: state, authentication and the operations."""

    def __init__(self) -> None:
        self.config = load_config()

    # -- time ------------------------------------------------------------------------------
    def now(self, state: dict[str, Any]) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=float(state.get("clock_offset_s", 0)))

    # -- authentication --------------------------------------------------------------------
    def authenticate(self, header: ET.Element | None, state: dict[str, Any]) -> dict[str, Any]:
        token = header.find("wsse:Security/wsse:UsernameToken", NS) if header is not None else None
        if token is None:
            raise Fault("Sender", "NotAuthorized", "WS-Security UsernameToken required")
        username = _text(token, "wsse:Username")
        password_node = token.find("wsse:Password", NS)
        nonce = _text(token, "wsse:Nonce")
        created = _text(token, "wsu:Created")
        if password_node is None or not password_node.get("Type", "").endswith("#PasswordDigest"):
            raise Fault("Sender", "NotAuthorized", "PasswordDigest required")
        supplied = (password_node.text or "").strip()
        user = next((u for u in state["users"] if u["username"] == username), None)
        if user is None or not nonce or not created:
            raise Fault("Sender", "NotAuthorized", "Sender not authorized")
        try:
            raw_nonce = base64.b64decode(nonce)
            when = datetime.fromisoformat(created.replace("Z", "+00:00"))
        except ValueError as error:
            raise Fault("Sender", "NotAuthorized", "Sender not authorized") from error
        expected = base64.b64encode(
            hashlib.sha1(raw_nonce + created.encode() + user["password"].encode()).digest()  # noqa: S324  # ONVIF mandates SHA-1
        ).decode()
        if not hmac.compare_digest(expected, supplied):
            raise Fault("Sender", "NotAuthorized", "Sender not authorized")
        if abs(self.now(state) - when) > MAX_SKEW:
            raise Fault("Sender", "NotAuthorized", "UsernameToken Created is out of range")
        return dict(user)

    def handle(self, payload: bytes, local_ip: str) -> tuple[int, bytes]:
        try:
            root = ET.fromstring(payload)  # noqa: S314  # lab fixture, lab clients only
        except ET.ParseError:
            return 400, envelope(fault_body(Fault("Sender", "WellFormed", "not XML")))
        body = root.find("s:Body", NS)
        if body is None or len(body) == 0:
            return 400, envelope(fault_body(Fault("Sender", "WellFormed", "no SOAP Body")))
        request = body[0]
        operation = request.tag.rsplit("}", 1)[-1]
        state = load_state(self.config)
        try:
            if operation not in OPEN_OPERATIONS:
                user = self.authenticate(root.find("s:Header", NS), state)
                if operation in ADMIN_OPERATIONS and user["level"] != "Administrator":
                    raise Fault("Sender", "NotAuthorized", "Administrator level required")
            handler = getattr(self, f"op_{_snake(operation)}", None)
            if handler is None:
                raise Fault("Receiver", "ActionNotSupported", f"{operation} is not supported")
            return 200, envelope(handler(request, state, local_ip))
        except Fault as fault:
            return fault.status, envelope(fault_body(fault))

    # -- Device service --------------------------------------------------------------------
    def op_get_device_information(self, req: ET.Element, state: dict[str, Any], ip: str) -> str:
        c = self.config
        return (
            "<tds:GetDeviceInformationResponse>"
            f"<tds:Manufacturer>{escape(c['manufacturer'])}</tds:Manufacturer>"
            f"<tds:Model>{escape(c['model'])}</tds:Model>"
            f"<tds:FirmwareVersion>{escape(c['firmware'])}</tds:FirmwareVersion>"
            f"<tds:SerialNumber>{escape(c['serial'])}</tds:SerialNumber>"
            f"<tds:HardwareId>{escape(c['id'])}</tds:HardwareId>"
            "</tds:GetDeviceInformationResponse>"
        )

    @staticmethod
    def _datetime(tag: str, moment: datetime) -> str:
        return (
            f"<tt:{tag}><tt:Time><tt:Hour>{moment.hour}</tt:Hour><tt:Minute>{moment.minute}"
            f"</tt:Minute><tt:Second>{moment.second}</tt:Second></tt:Time><tt:Date><tt:Year>"
            f"{moment.year}</tt:Year><tt:Month>{moment.month}</tt:Month><tt:Day>{moment.day}"
            f"</tt:Day></tt:Date></tt:{tag}>"
        )

    def op_get_system_date_and_time(self, req: ET.Element, state: dict[str, Any], ip: str) -> str:
        moment = self.now(state)
        return (
            "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime>"
            f"<tt:DateTimeType>{state.get('datetime_type', 'Manual')}</tt:DateTimeType>"
            "<tt:DaylightSavings>false</tt:DaylightSavings>"
            "<tt:TimeZone><tt:TZ>UTC0</tt:TZ></tt:TimeZone>"
            f"{self._datetime('UTCDateTime', moment)}{self._datetime('LocalDateTime', moment)}"
            "</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>"
        )

    def op_set_system_date_and_time(self, req: ET.Element, state: dict[str, Any], ip: str) -> str:
        kind = _text(req, "tds:DateTimeType", "Manual")
        if kind not in {"Manual", "NTP"}:
            raise Fault("Sender", "InvalidArgVal", f"DateTimeType {kind}")
        state["datetime_type"] = kind
        utc = req.find("tds:UTCDateTime", NS)
        if kind == "Manual" and utc is not None:
            try:
                wanted = datetime(
                    int(_text(utc, "tt:Date/tt:Year")),
                    int(_text(utc, "tt:Date/tt:Month")),
                    int(_text(utc, "tt:Date/tt:Day")),
                    int(_text(utc, "tt:Time/tt:Hour")),
                    int(_text(utc, "tt:Time/tt:Minute")),
                    int(_text(utc, "tt:Time/tt:Second")),
                    tzinfo=UTC,
                )
            except ValueError as error:
                raise Fault("Sender", "InvalidDateTime", str(error)) from error
            state["clock_offset_s"] = (wanted - datetime.now(UTC)).total_seconds()
        elif kind == "NTP" and state["ntp"]["servers"]:
            state["clock_offset_s"] = 0.0
        save_state(state)
        return "<tds:SetSystemDateAndTimeResponse/>"

    def op_get_ntp(self, req: ET.Element, state: dict[str, Any], ip: str) -> str:
        servers = "".join(
            "<tt:NTPManual><tt:Type>IPv4</tt:Type>"
            f"<tt:IPv4Address>{escape(server)}</tt:IPv4Address></tt:NTPManual>"
            if _is_ipv4(server)
            else f"<tt:NTPManual><tt:Type>DNS</tt:Type><tt:DNSname>{escape(server)}</tt:DNSname>"
            "</tt:NTPManual>"
            for server in state["ntp"]["servers"]
        )
        dhcp = str(state["ntp"]["from_dhcp"]).lower()
        return (
            f"<tds:GetNTPResponse><tds:NTPInformation><tt:FromDHCP>{dhcp}</tt:FromDHCP>"
            f"{servers}</tds:NTPInformation></tds:GetNTPResponse>"
        )

    def op_set_ntp(self, req: ET.Element, state: dict[str, Any], ip: str) -> str:
        servers = []
        for entry in req.findall("tds:NTPManual", NS):
            kind = _text(entry, "tt:Type")
            value = _text(entry, "tt:IPv4Address") if kind == "IPv4" else _text(entry, "tt:DNSname")
            if not value:
                raise Fault("Sender", "InvalidArgVal", "NTPManual needs an address")
            servers.append(value)
        state["ntp"] = {"from_dhcp": _text(req, "tds:FromDHCP") == "true", "servers": servers}
        if servers:  # the lab camera reaches its NTP server at once
            state["datetime_type"] = "NTP"
            state["clock_offset_s"] = 0.0
        save_state(state)
        return "<tds:SetNTPResponse/>"

    def op_get_users(self, req: ET.Element, state: dict[str, Any], ip: str) -> str:
        users = "".join(
            f"<tds:User><tt:Username>{escape(u['username'])}</tt:Username>"
            f"<tt:UserLevel>{u['level']}</tt:UserLevel></tds:User>"
            for u in state["users"]
        )
        return f"<tds:GetUsersResponse>{users}</tds:GetUsersResponse>"

    @staticmethod
    def _users(req: ET.Element) -> list[dict[str, str]]:
        users = []
        for node in req.findall("tds:User", NS):
            level = _text(node, "tt:UserLevel", "User")
            if level not in {"Administrator", "Operator", "User"}:
                raise Fault("Sender", "InvalidArgVal", f"UserLevel {level}")
            users.append(
                {
                    "username": _text(node, "tt:Username"),
                    "password": _text(node, "tt:Password"),
                    "level": level,
                }
            )
        return users

    def op_create_users(self, req: ET.Element, state: dict[str, Any], ip: str) -> str:
        existing = {u["username"] for u in state["users"]}
        for user in self._users(req):
            if user["username"] in existing:
                raise Fault("Sender", "UsernameClash", f"{user['username']} exists")
            if not user["username"] or len(user["password"]) < 8:
                raise Fault("Sender", "PasswordTooWeak", "password needs 8 characters or more")
            state["users"].append(user)
            existing.add(user["username"])
        save_state(state)
        return "<tds:CreateUsersResponse/>"

    def op_set_user(self, req: ET.Element, state: dict[str, Any], ip: str) -> str:
        by_name = {u["username"]: u for u in state["users"]}
        for user in self._users(req):
            current = by_name.get(user["username"])
            if current is None:
                raise Fault("Sender", "UsernameMissing", f"{user['username']} does not exist")
            if user["password"]:
                if len(user["password"]) < 8:
                    raise Fault("Sender", "PasswordTooWeak", "password needs 8 characters or more")
                current["password"] = user["password"]
            current["level"] = user["level"]
        if not any(u["level"] == "Administrator" for u in state["users"]):
            raise Fault("Sender", "FixedUser", "at least one Administrator must remain")
        save_state(state)
        return "<tds:SetUserResponse/>"

    def op_delete_users(self, req: ET.Element, state: dict[str, Any], ip: str) -> str:
        names = {(node.text or "").strip() for node in req.findall("tds:Username", NS)}
        known = {u["username"] for u in state["users"]}
        if names - known:
            raise Fault("Sender", "UsernameMissing", ", ".join(sorted(names - known)))
        remaining = [u for u in state["users"] if u["username"] not in names]
        if not any(u["level"] == "Administrator" for u in remaining):
            raise Fault("Sender", "FixedUser", "at least one Administrator must remain")
        state["users"] = remaining
        save_state(state)
        return "<tds:DeleteUsersResponse/>"

    def _xaddr(self, ip: str, service: str) -> str:
        return f"http://{ip}:{self.config['onvif_port']}/onvif/{service}_service"

    def op_get_capabilities(self, req: ET.Element, state: dict[str, Any], ip: str) -> str:
        return (
            "<tds:GetCapabilitiesResponse><tds:Capabilities>"
            f"<tt:Device><tt:XAddr>{self._xaddr(ip, 'device')}</tt:XAddr>"
            "<tt:Network><tt:IPFilter>false</tt:IPFilter><tt:ZeroConfiguration>false"
            "</tt:ZeroConfiguration><tt:IPVersion6>false</tt:IPVersion6><tt:DynDNS>false"
            "</tt:DynDNS></tt:Network>"
            "<tt:System><tt:DiscoveryResolve>false</tt:DiscoveryResolve><tt:DiscoveryBye>false"
            "</tt:DiscoveryBye><tt:RemoteDiscovery>false</tt:RemoteDiscovery><tt:SystemBackup>"
            "false</tt:SystemBackup><tt:SystemLogging>false</tt:SystemLogging>"
            "<tt:FirmwareUpgrade>false</tt:FirmwareUpgrade><tt:SupportedVersions><tt:Major>2"
            "</tt:Major><tt:Minor>60</tt:Minor></tt:SupportedVersions></tt:System>"
            "<tt:Security><tt:TLS1.1>false</tt:TLS1.1><tt:TLS1.2>false</tt:TLS1.2>"
            "<tt:OnboardKeyGeneration>false</tt:OnboardKeyGeneration><tt:AccessPolicyConfig>"
            "false</tt:AccessPolicyConfig><tt:X.509Token>false</tt:X.509Token><tt:SAMLToken>"
            "false</tt:SAMLToken><tt:KerberosToken>false</tt:KerberosToken><tt:RELToken>false"
            "</tt:RELToken></tt:Security></tt:Device>"
            f"<tt:Media><tt:XAddr>{self._xaddr(ip, 'media')}</tt:XAddr>"
            "<tt:StreamingCapabilities><tt:RTPMulticast>false</tt:RTPMulticast><tt:RTP_TCP>true"
            "</tt:RTP_TCP><tt:RTP_RTSP_TCP>true</tt:RTP_RTSP_TCP></tt:StreamingCapabilities>"
            "</tt:Media></tds:Capabilities></tds:GetCapabilitiesResponse>"
        )

    def op_get_services(self, req: ET.Element, state: dict[str, Any], ip: str) -> str:
        services = "".join(
            f"<tds:Service><tds:Namespace>{NS[prefix]}</tds:Namespace>"
            f"<tds:XAddr>{self._xaddr(ip, name)}</tds:XAddr>"
            "<tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version></tds:Service>"
            for prefix, name in (("tds", "device"), ("trt", "media"))
        )
        return f"<tds:GetServicesResponse>{services}</tds:GetServicesResponse>"

    def op_get_hostname(self, req: ET.Element, state: dict[str, Any], ip: str) -> str:
        return (
            "<tds:GetHostnameResponse><tds:HostnameInformation><tt:FromDHCP>false</tt:FromDHCP>"
            f"<tt:Name>{escape(self.config['id'].replace('_', '-'))}</tt:Name>"
            "</tds:HostnameInformation></tds:GetHostnameResponse>"
        )

    def op_get_network_interfaces(self, req: ET.Element, state: dict[str, Any], ip: str) -> str:
        return (
            '<tds:GetNetworkInterfacesResponse><tds:NetworkInterfaces token="eth0">'
            "<tt:Enabled>true</tt:Enabled><tt:Info><tt:Name>eth0</tt:Name>"
            f"<tt:HwAddress>{escape(self.config['mac'])}</tt:HwAddress><tt:MTU>1500</tt:MTU>"
            "</tt:Info><tt:IPv4><tt:Enabled>true</tt:Enabled><tt:Config><tt:Manual>"
            f"<tt:Address>{ip}</tt:Address><tt:PrefixLength>24</tt:PrefixLength></tt:Manual>"
            "<tt:DHCP>false</tt:DHCP></tt:Config></tt:IPv4></tds:NetworkInterfaces>"
            "</tds:GetNetworkInterfacesResponse>"
        )

    # -- Media service ---------------------------------------------------------------------
    def _encoder_xml(
        self,
        state: dict[str, Any],
        tag: str = "tt:VideoEncoderConfiguration",
        attrs: str = 'token="vec_main"',
    ) -> str:
        e = state["encoder"]
        return (
            f"<{tag} {attrs}><tt:Name>MainStream</tt:Name><tt:UseCount>1</tt:UseCount>"
            "<tt:Encoding>H264</tt:Encoding>"
            f"<tt:Resolution><tt:Width>{e['width']}</tt:Width><tt:Height>{e['height']}"
            "</tt:Height></tt:Resolution><tt:Quality>5</tt:Quality>"
            f"<tt:RateControl><tt:FrameRateLimit>{e['fps']}</tt:FrameRateLimit>"
            "<tt:EncodingInterval>1</tt:EncodingInterval>"
            f"<tt:BitrateLimit>{e['bitrate_kbps']}</tt:BitrateLimit></tt:RateControl>"
            f"<tt:H264><tt:GovLength>{e.get('gov_length', int(e['fps']) * 2)}</tt:GovLength>"
            "<tt:H264Profile>Baseline</tt:H264Profile></tt:H264>"
            "<tt:Multicast><tt:Address><tt:Type>IPv4</tt:Type><tt:IPv4Address>0.0.0.0"
            "</tt:IPv4Address></tt:Address><tt:Port>0</tt:Port><tt:TTL>1</tt:TTL>"
            "<tt:AutoStart>false</tt:AutoStart></tt:Multicast>"
            f"<tt:SessionTimeout>PT60S</tt:SessionTimeout></{tag}>"
        )

    def _profile(self, state: dict[str, Any]) -> str:
        e = state["encoder"]
        return (
            '<trt:Profiles token="profile_main" fixed="true"><tt:Name>MainStream</tt:Name>'
            '<tt:VideoSourceConfiguration token="vsc_main"><tt:Name>VideoSource</tt:Name>'
            "<tt:UseCount>1</tt:UseCount><tt:SourceToken>vs_main</tt:SourceToken>"
            f'<tt:Bounds x="0" y="0" width="{e["width"]}" height="{e["height"]}"/>'
            f"</tt:VideoSourceConfiguration>{self._encoder_xml(state)}</trt:Profiles>"
        )

    def op_get_profiles(self, req: ET.Element, state: dict[str, Any], ip: str) -> str:
        return f"<trt:GetProfilesResponse>{self._profile(state)}</trt:GetProfilesResponse>"

    def op_get_profile(self, req: ET.Element, state: dict[str, Any], ip: str) -> str:
        if _text(req, "trt:ProfileToken") != "profile_main":
            raise Fault("Sender", "NoProfile", "unknown profile token")
        profile = self._profile(state).replace("trt:Profiles", "trt:Profile")
        return f"<trt:GetProfileResponse>{profile}</trt:GetProfileResponse>"

    def op_get_stream_uri(self, req: ET.Element, state: dict[str, Any], ip: str) -> str:
        profile = _text(req, "trt:ProfileToken", "profile_main")
        if profile != "profile_main":
            raise Fault("Sender", "NoProfile", "unknown profile token")
        uri = f"rtsp://{ip}:{self.config['rtsp_port']}{self.config['rtsp_path']}"
        return (
            "<trt:GetStreamUriResponse><trt:MediaUri>"
            f"<tt:Uri>{escape(uri)}</tt:Uri><tt:InvalidAfterConnect>false</tt:InvalidAfterConnect>"
            "<tt:InvalidAfterReboot>false</tt:InvalidAfterReboot><tt:Timeout>PT0S</tt:Timeout>"
            "</trt:MediaUri></trt:GetStreamUriResponse>"
        )

    def op_get_video_encoder_configurations(
        self, req: ET.Element, state: dict[str, Any], ip: str
    ) -> str:
        configuration = self._encoder_xml(state, "trt:Configurations")
        return (
            "<trt:GetVideoEncoderConfigurationsResponse>"
            f"{configuration}</trt:GetVideoEncoderConfigurationsResponse>"
        )

    def op_get_video_encoder_configuration(
        self, req: ET.Element, state: dict[str, Any], ip: str
    ) -> str:
        if _text(req, "trt:ConfigurationToken") != "vec_main":
            raise Fault("Sender", "NoConfig", "unknown configuration token")
        configuration = self._encoder_xml(state, "trt:Configuration")
        return (
            "<trt:GetVideoEncoderConfigurationResponse>"
            f"{configuration}</trt:GetVideoEncoderConfigurationResponse>"
        )

    def op_get_video_encoder_configuration_options(
        self, req: ET.Element, state: dict[str, Any], ip: str
    ) -> str:
        sizes = "".join(
            f"<tt:ResolutionsAvailable><tt:Width>{w}</tt:Width><tt:Height>{h}</tt:Height>"
            "</tt:ResolutionsAvailable>"
            for w, h in capabilities(self.config)[0]
        )
        return (
            "<trt:GetVideoEncoderConfigurationOptionsResponse><trt:Options>"
            "<tt:QualityRange><tt:Min>1</tt:Min><tt:Max>10</tt:Max></tt:QualityRange>"
            f"<tt:H264>{sizes}<tt:GovLengthRange><tt:Min>1</tt:Min><tt:Max>150</tt:Max>"
            "</tt:GovLengthRange><tt:FrameRateRange><tt:Min>1</tt:Min>"
            f"<tt:Max>{capabilities(self.config)[1]}</tt:Max>"
            "</tt:FrameRateRange><tt:EncodingIntervalRange><tt:Min>1</tt:Min><tt:Max>1</tt:Max>"
            "</tt:EncodingIntervalRange><tt:H264ProfilesSupported>Baseline"
            "</tt:H264ProfilesSupported></tt:H264></trt:Options>"
            "</trt:GetVideoEncoderConfigurationOptionsResponse>"
        )

    def op_set_video_encoder_configuration(
        self, req: ET.Element, state: dict[str, Any], ip: str
    ) -> str:
        conf = req.find("trt:Configuration", NS)
        if conf is None or conf.get("token") != "vec_main":
            raise Fault("Sender", "NoConfig", "unknown configuration token")
        encoding = _text(conf, "tt:Encoding", "H264")
        if encoding != "H264":
            raise Fault("Sender", "ConfigModify", f"encoding {encoding} is not supported")
        try:
            width = int(_text(conf, "tt:Resolution/tt:Width"))
            height = int(_text(conf, "tt:Resolution/tt:Height"))
            fps = int(_text(conf, "tt:RateControl/tt:FrameRateLimit"))
            bitrate = int(_text(conf, "tt:RateControl/tt:BitrateLimit"))
            gov = int(_text(conf, "tt:H264/tt:GovLength", str(fps * 2)))
        except ValueError as error:
            raise Fault("Sender", "ConfigModify", f"bad number: {error}") from error
        sizes, max_fps = capabilities(self.config)
        if (width, height) not in sizes:
            raise Fault("Sender", "ConfigModify", f"resolution {width}x{height} not supported")
        if not 1 <= fps <= max_fps:
            raise Fault("Sender", "ConfigModify", f"frame rate {fps} not supported (1-{max_fps})")
        if not 64 <= bitrate <= 16384 or not 1 <= gov <= 150:
            raise Fault("Sender", "ConfigModify", "bit rate or GOP out of range")
        state["encoder"] = {
            "width": width,
            "height": height,
            "fps": fps,
            "bitrate_kbps": bitrate,
            "gov_length": gov,
        }
        save_state(state)
        return "<trt:SetVideoEncoderConfigurationResponse/>"


def _snake(operation: str) -> str:
    """ONVIF operation name to method name: GetNTP -> get_ntp, GetStreamUri -> get_stream_uri."""
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", operation).lower()


def _is_ipv4(value: str) -> bool:
    parts = value.split(".")
    return len(parts) == 4 and all(part.isdigit() and int(part) < 256 for part in parts)


class Handler(BaseHTTPRequestHandler):
    device: Device
    server_version = "camsim-onvif/1.0"

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        payload = self.rfile.read(min(length, 1_000_000))
        local_ip = self.connection.getsockname()[0]
        status, body = self.device.handle(payload, local_ip)
        self.send_response(status)
        self.send_header("Content-Type", "application/soap+xml; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        sys.stdout.write(f"{time.strftime('%H:%M:%S')} {self.address_string()} {format % args}\n")
        sys.stdout.flush()


ROLE = "camera-user"


def live_launch(config: dict[str, Any], encoder: dict[str, Any]) -> str:
    fps = int(encoder["fps"])
    gov = int(encoder.get("gov_length", fps * 2))
    return (
        "( videotestsrc is-live=true pattern=smpte "
        f"! video/x-raw,width={int(encoder['width'])},height={int(encoder['height'])},"
        f"framerate={fps}/1 "
        f'! clockoverlay text="{config["id"]}" time-format="%Y-%m-%d %H:%M:%S" '
        'halignment=left valignment=top shaded-background=true font-desc="Sans 16" '
        "! videoconvert "
        "! x264enc tune=zerolatency speed-preset=ultrafast "
        f"bitrate={int(encoder['bitrate_kbps'])} key-int-max={gov} "
        "! video/x-h264,profile=baseline "
        "! rtph264pay name=pay0 pt=96 config-interval=1 )"
    )


def replay_launch(config: dict[str, Any]) -> str:
    """The pre-encoded clip as it is: demuxed and packetised, never re-encoded."""
    return (
        f"( filesrc location={config['clip']} ! matroskademux name=demux ! h264parse name=parse "
        "! rtph264pay name=pay0 pt=96 config-interval=1 )"
    )


class RtspCamera:
    """The camera's RTSP server; reloads users and encoder settings when the state changes."""

    def __init__(self, glib: Any, gst: Any, gst_rtsp: Any, rtsp_server: Any) -> None:
        self.glib, self.gst, self.rtsp_server = glib, gst, rtsp_server
        self.config = load_config()
        self.server = rtsp_server.RTSPServer()
        self.server.set_address(self.config.get("listen", "0.0.0.0"))  # noqa: S104  # camera LAN
        self.server.set_service(str(self.config["rtsp_port"]))
        self.auth = rtsp_server.RTSPAuth()
        self.auth.set_supported_methods(gst_rtsp.RTSPAuthMethod.DIGEST)
        self.server.set_auth(self.auth)
        self.users: set[str] = set()
        self.launch = ""
        self.mtime = 0.0
        self.reload()
        if self.server.attach(None) == 0:
            raise SystemExit(f"cannot listen on RTSP port {self.config['rtsp_port']}")
        glib.timeout_add(500, self.poll)

    def poll(self) -> bool:
        try:
            mtime = Path(STATE).stat().st_mtime
        except FileNotFoundError:
            mtime = 0.0
        if mtime != self.mtime:
            self.reload()
        return True

    def _live_only(self, _factory: Any, media: Any) -> None:
        """A camera's stream is live: a client's PLAY never seeks it.

        The media is shared by every client (the NVR, central, a technician's player). A
        client asking for ``Range: npt=0-`` (ffmpeg always does) would otherwise flush-seek the
        shared pipeline back to its start, and every other client would see its timestamps
        jump back. Answering the seeking query "not seekable" makes the server skip the seek,
        as a real camera ignores the range of a live stream.
        """
        gst = self.gst
        pad = media.get_element().get_by_name("pay0").get_static_pad("src")

        def probe(_pad: Any, info: Any) -> Any:
            if info.get_query().type != gst.QueryType.SEEKING:
                return gst.PadProbeReturn.OK
            # Answered as created: not seekable (the query is not writable from here).
            return gst.PadProbeReturn.HANDLED

        pad.add_probe(gst.PadProbeType.QUERY_UPSTREAM, probe)

    def _loop_clip(self, factory: Any, media: Any) -> None:
        """Replay: loop the clip without a gap, as an endless live stream.

        At the clip's end the EOS is held back, the demuxer seeks to the start, its flush is
        kept from the payloader, and the parser's source pad offset grows by the clip's length,
        so timestamps keep increasing as a camera's would.
        """
        gst, glib = self.gst, self.glib
        element = media.get_element()
        demux = element.get_by_name("demux")
        pad = element.get_by_name("parse").get_static_pad("src")
        state = {"end": 0, "looping": False}

        def rewind() -> bool:
            pad.set_offset(pad.get_offset() + state["end"])
            demux.send_event(
                gst.Event.new_seek(
                    1.0,
                    gst.Format.TIME,
                    gst.SeekFlags.FLUSH | gst.SeekFlags.KEY_UNIT,
                    gst.SeekType.SET,
                    0,
                    gst.SeekType.NONE,
                    -1,
                )
            )
            return False

        def probe(_pad: Any, info: Any) -> Any:
            if info.type & gst.PadProbeType.BUFFER:
                buffer = info.get_buffer()
                if buffer.pts != gst.CLOCK_TIME_NONE:
                    length = buffer.duration if buffer.duration != gst.CLOCK_TIME_NONE else 0
                    state["end"] = max(state["end"], buffer.pts + length)
                return gst.PadProbeReturn.OK
            event = info.get_event()
            if event.type == gst.EventType.EOS:
                state["looping"] = True
                glib.idle_add(rewind)
                return gst.PadProbeReturn.DROP
            flushes = (gst.EventType.FLUSH_START, gst.EventType.FLUSH_STOP)
            if state["looping"] and event.type in flushes:
                return gst.PadProbeReturn.DROP
            if event.type == gst.EventType.SEGMENT:
                state["looping"] = False
            return gst.PadProbeReturn.OK

        pad.add_probe(
            gst.PadProbeType.EVENT_DOWNSTREAM
            | gst.PadProbeType.EVENT_FLUSH
            | gst.PadProbeType.BUFFER,
            probe,
        )

    def reload(self) -> None:
        state = load_state(self.config)
        self.mtime = Path(STATE).stat().st_mtime
        token = self.rtsp_server.RTSPToken()
        token.set_string("media.factory.role", ROLE)
        for name in self.users:
            self.auth.remove_digest(name)
        self.users = set()
        for user in state["users"]:
            self.auth.add_digest(user["username"], user["password"], token)
            self.users.add(user["username"])
        replay = self.config.get("mode") == "replay" and bool(self.config.get("clip"))
        launch = (
            replay_launch(self.config) if replay else live_launch(self.config, state["encoder"])
        )
        if launch != self.launch:
            factory = self.rtsp_server.RTSPMediaFactory()
            factory.set_launch(launch)
            factory.set_shared(True)
            factory.connect("media-configure", self._live_only)
            if replay:
                factory.connect("media-configure", self._loop_clip)
            permissions = self.rtsp_server.RTSPPermissions()
            permissions.add_permission_for_role(ROLE, "media.factory.access", True)
            permissions.add_permission_for_role(ROLE, "media.factory.construct", True)
            factory.set_permissions(permissions)
            self.server.get_mount_points().add_factory(self.config["rtsp_path"], factory)
            self.launch = launch
        mode = "replay" if replay else "live"
        print(f"camsim: RTSP {len(self.users)} user(s), {mode} mode", flush=True)


def serve() -> None:
    """Run the ONVIF service in a thread and the RTSP server in the GLib main loop."""
    import gi  # noqa: PLC0415  # GStreamer only where the camera runs

    gi.require_version("Gst", "1.0")
    gi.require_version("GstRtsp", "1.0")
    gi.require_version("GstRtspServer", "1.0")
    from gi.repository import GLib, Gst, GstRtsp, GstRtspServer  # noqa: PLC0415

    Gst.init(None)
    device = Device()
    load_state(device.config)  # the factory state on first boot
    Handler.device = device
    listen = device.config.get("listen", "0.0.0.0")  # noqa: S104  # the camera LAN address
    http = ThreadingHTTPServer((listen, int(device.config["onvif_port"])), Handler)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    rtsp = RtspCamera(GLib, Gst, GstRtsp, GstRtspServer)

    def apply_now() -> None:
        """From an ONVIF thread: reload in the main loop and wait until it is done."""
        done = threading.Event()

        def reload() -> bool:
            rtsp.reload()
            done.set()
            return False

        GLib.idle_add(reload)
        done.wait(timeout=5)

    _listeners.append(apply_now)
    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    print(f"camsim: ONVIF on :{device.config['onvif_port']}", flush=True)
    loop.run()
    http.shutdown()


def wait_ready(timeout: float = 30) -> None:
    """Return once RTSP and ONVIF accept connections again (after a restart)."""
    import socket  # noqa: PLC0415

    config = load_config()
    ports = [int(config["rtsp_port"]), int(config["onvif_port"])]
    deadline = time.monotonic() + timeout
    while ports:
        try:
            with socket.create_connection(("127.0.0.1", ports[0]), timeout=1):
                ports.pop(0)
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(
                    f"camsim: port {ports[0]} not answering after {timeout:.0f}s"
                ) from None
            time.sleep(0.2)


def factory_reset() -> None:
    """Return the camera to its factory state (users, NTP, clock, encoder) and restart it."""
    subprocess.run(["systemctl", "stop", "camsim.service"], check=True)  # noqa: S607
    Path(STATE).unlink(missing_ok=True)
    subprocess.run(["systemctl", "start", "camsim.service"], check=True)  # noqa: S607
    wait_ready()


def ensure_user(username: str, password: str) -> bool:
    """Make sure an administrator with this password exists (as the camera role leaves it).

    The lab's stand-in for a camera configured before: the password comes on stdin, never on
    the command line. Restarts the service when something changed. True if it did.
    """
    state = load_state(load_config())
    path = Path(STATE).resolve()
    folder = path.parent.stat()
    owned = path.stat().st_uid == folder.st_uid
    user = next((u for u in state["users"] if u["username"] == username), None)
    if user is not None and user["password"] == password and owned:
        return False
    if user is None:
        state["users"].append(
            {"username": username, "password": password, "level": "Administrator"}
        )
    else:
        user["password"] = password
    with _lock:
        _write(state)
    # Run as root: the file keeps the owner of its folder (the service's dynamic user).
    os.chown(path, folder.st_uid, folder.st_gid)
    subprocess.run(["systemctl", "restart", "camsim.service"], check=True)  # noqa: S607
    wait_ready()
    return True


def main() -> None:
    command = sys.argv[1] if len(sys.argv) > 1 else "serve"
    if command == "serve":
        serve()
    elif command == "factory-reset":
        factory_reset()
    elif command == "ensure-user" and len(sys.argv) == 3:
        changed = ensure_user(sys.argv[2], sys.stdin.readline().rstrip("\n"))
        print("changed" if changed else "unchanged")
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
