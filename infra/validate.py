"""Province-wide validation of an inventory, run before any host is touched.

Every rule adds :class:`Problem` lines naming the file, the exact field path and the fix. The
rule ids are the requirement ids of ``REQUIREMENTS.md`` (R1, R3, R4, R6, R7) or a check family
(SCHEMA, DUP, NET, SECRET).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from ipaddress import IPv4Address, IPv4Network
from pathlib import Path

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from netaddr import EUI, AddrFormatError

from infra import secrets, sizing, vault
from infra.loader import ACCOUNTS_FILE, PROVINCE_FILE, LoadResult, load
from infra.model import (
    MIN_RETENTION_DAYS,
    VAULT_REF_RE,
    Account,
    CentralRole,
    Contact,
    Facility,
    FacilityStatus,
    Inventory,
    Operator,
    Role,
)
from infra.problems import Problem, Severity
from infra.zones import REQUIRED_ZONES, ZONE_LABELS_VI, allowed_zone_keys, classify, forbidden_place

#: Local parts of e-mail addresses that belong to offices, not persons (R6: no shared accounts).
SHARED_MAILBOXES = frozenset(
    {
        "admin",
        "info",
        "contact",
        "office",
        "vanphong",
        "vp",
        "camera",
        "test",
        "shared",
        "support",
        "hotro",
        "lienhe",
        "tonghop",
        "noreply",
    }
)
ACTIVE_STATUSES = frozenset({FacilityStatus.ACTIVE, FacilityStatus.STANDBY})


class Checker:
    """Collects problems for one loaded inventory."""

    def __init__(self, result: LoadResult, inventory: Inventory) -> None:
        self.result = result
        self.inventory = inventory
        self.problems: list[Problem] = []

    # -- helpers ---------------------------------------------------------------------------
    def facility_file(self, facility: Facility) -> str:
        return self.result.facility_files.get(facility.id, f"facilities/{facility.id}.yml")

    def add(
        self,
        file: str,
        path: str,
        rule: str,
        message: str,
        fix: str,
        *,
        severity: Severity = Severity.ERROR,
    ) -> None:
        self.problems.append(Problem(file, path, rule, message, fix, severity))

    def run(self) -> list[Problem]:
        self.retention()
        self.districts()
        self.central()
        self.zones()
        self.coverage()
        self.duplicates()
        self.addressing()
        self.credentials()
        self.capacity()
        self.streams()
        self.accounts()
        self.contacts()
        return self.problems

    # -- R4 --------------------------------------------------------------------------------
    def _retention(self, file: str, path: str, days: int | None) -> None:
        if days is not None and days < MIN_RETENTION_DAYS:
            self.add(
                file,
                path,
                "R4",
                f"retention is {days} days, below the {MIN_RETENTION_DAYS} days the directive "
                "requires",
                f"set it to {MIN_RETENTION_DAYS} or more (or remove it to use the province value)",
            )

    def retention(self) -> None:
        province = self.inventory.province
        self._retention(PROVINCE_FILE, "province.retention_days", province.retention_days)
        for facility in self.inventory.facilities:
            file = self.facility_file(facility)
            prefix = f"facilities[{facility.id}]"
            self._retention(file, f"{prefix}.retention_days", facility.retention_days)
            for camera in facility.cameras:
                self._retention(
                    file, f"{prefix}.cameras[{camera.id}].retention_days", camera.retention_days
                )

    # -- districts and operators -----------------------------------------------------------
    def districts(self) -> None:
        known = {district.id for district in self.inventory.province.districts}
        seen: set[str] = set()
        for index, district in enumerate(self.inventory.province.districts):
            if district.id in seen:
                self.add(
                    PROVINCE_FILE,
                    f"province.districts[{index}].id",
                    "DUP",
                    f"district id '{district.id}' appears twice",
                    "give each district one entry",
                )
            seen.add(district.id)
        for facility in self.inventory.facilities:
            if facility.district not in known:
                self.add(
                    self.facility_file(facility),
                    f"facilities[{facility.id}].district",
                    "SCHEMA",
                    f"unknown district '{facility.district}'",
                    f"use one of: {', '.join(sorted(known))} (province.yml districts)",
                )
            if facility.status not in ACTIVE_STATUSES and not facility.status_ref:
                self.add(
                    self.facility_file(facility),
                    f"facilities[{facility.id}].status_ref",
                    "R13",
                    f"facility is '{facility.status}' without the decision that made it so",
                    "set status_ref to the decision's document number and date",
                )

    def central(self) -> None:
        central = self.inventory.province.central
        present = {role for host in central.hosts for role in host.roles}
        for role in CentralRole:
            if role not in present:
                self.add(
                    PROVINCE_FILE,
                    "province.central.hosts",
                    "SCHEMA",
                    f"no central host has the role '{role}'",
                    f"add '{role}' to the roles of a central host",
                )
        for index, host in enumerate(central.hosts):
            if host.ip not in central.network:
                self.add(
                    PROVINCE_FILE,
                    f"province.central.hosts[{index}].ip",
                    "NET",
                    f"{host.ip} is outside the central network {central.network}",
                    f"use an address in {central.network}",
                )
        wireguard = central.wireguard
        if wireguard.hub_ip not in wireguard.subnet:
            self.add(
                PROVINCE_FILE,
                "province.central.wireguard.hub_ip",
                "NET",
                f"{wireguard.hub_ip} is outside the tunnel subnet {wireguard.subnet}",
                f"use an address in {wireguard.subnet}",
            )
        if wireguard.subnet.overlaps(central.network):
            self.add(
                PROVINCE_FILE,
                "province.central.wireguard.subnet",
                "NET",
                f"tunnel subnet {wireguard.subnet} overlaps the central network {central.network}",
                "choose separate address ranges",
            )
        recorders = sum(1 for host in central.hosts if CentralRole.RECORDER in host.roles)
        needed = sizing.size(self.inventory).central
        if recorders and recorders < needed.recorder_nodes:
            self.add(
                PROVINCE_FILE,
                "province.central.hosts",
                "R3",
                f"the central recorders take {needed.ingest_mbps:.1f} Mbit/s: "
                f"{needed.recorder_nodes} recorder node(s) at "
                f"{needed.node_capacity_mbps:g} Mbit/s each, the model lists {recorders}",
                f"add {needed.recorder_nodes - recorders} central host(s) with the recorder role "
                "(the Pulumi stack creates them: camops pulumi-inventory -i prints the lines)",
                severity=Severity.WARNING,
            )

    # -- R1 --------------------------------------------------------------------------------
    def zones(self) -> None:
        allowed = ", ".join(allowed_zone_keys())
        for facility in self.inventory.facilities:
            file = self.facility_file(facility)
            for camera in facility.cameras:
                path = f"facilities[{facility.id}].cameras[{camera.id}]"
                verdict = classify(camera.zone)
                if verdict.forbidden is not None:
                    self.add(
                        file,
                        f"{path}.zone",
                        "R1",
                        f"camera '{camera.name}' is in '{camera.zone}', inside a "
                        f"{verdict.forbidden}; R1 forbids cameras inside rooms, toilets and "
                        "bathrooms",
                        "move the camera to a public area (for a shared bathroom: outside it, "
                        "zone outside_shared_bathroom) or remove it",
                    )
                elif not verdict.allowed:
                    self.add(
                        file,
                        f"{path}.zone",
                        "R1",
                        f"unknown zone '{camera.zone}' for camera '{camera.name}'",
                        f"use one of: {allowed}",
                    )
                place = forbidden_place(camera.location) if camera.location else None
                if place is not None:
                    self.add(
                        file,
                        f"{path}.location",
                        "R1",
                        f"location '{camera.location}' is inside a {place}; R1 forbids cameras "
                        "inside rooms, toilets and bathrooms",
                        "move the camera to a public area and describe where it now is",
                    )

    def coverage(self) -> None:
        for facility in self.inventory.facilities:
            if facility.status not in ACTIVE_STATUSES:
                continue
            covered = {classify(camera.zone).zone for camera in facility.cameras}
            missing = [zone for zone in REQUIRED_ZONES if zone not in covered]
            if missing:
                names = ", ".join(f"{zone} ({ZONE_LABELS_VI[zone]})" for zone in missing)
                self.add(
                    self.facility_file(facility),
                    f"facilities[{facility.id}].cameras",
                    "R1",
                    f"facility '{facility.name}' has no camera covering: {names}",
                    "add cameras for these public areas",
                    severity=Severity.WARNING,
                )

    # -- duplicates ------------------------------------------------------------------------
    def duplicates(self) -> None:
        facility_ids: dict[str, str] = {}
        camera_ids: dict[str, str] = {}
        macs: dict[str, str] = {}
        hostnames: dict[str, str] = {}
        for index, host in enumerate(self.inventory.province.central.hosts):
            hostnames.setdefault(host.hostname, f"province.central.hosts[{index}]")
        sources = self.result.facility_sources
        for index, facility in enumerate(self.inventory.facilities):
            # Each facility's own file: two facilities with one id are in two files.
            file = sources[index] if index < len(sources) else self.facility_file(facility)
            prefix = f"facilities[{facility.id}]"
            if facility.id in facility_ids:
                self.add(
                    file,
                    f"{prefix}.id",
                    "DUP",
                    f"facility id '{facility.id}' is also used by {facility_ids[facility.id]}",
                    "give each facility its own id",
                )
            facility_ids.setdefault(facility.id, file)
            for kind, name in (
                ("nvr", facility.nvr.hostname),
                ("router", facility.router.hostname),
            ):
                where = f"{prefix}.{kind}.hostname"
                if name in hostnames:
                    self.add(
                        file,
                        where,
                        "DUP",
                        f"hostname '{name}' is also used by {hostnames[name]}",
                        "give each host its own name",
                    )
                hostnames.setdefault(name, where)
            for camera in facility.cameras:
                path = f"{prefix}.cameras[{camera.id}]"
                if camera.id in camera_ids:
                    self.add(
                        file,
                        f"{path}.id",
                        "DUP",
                        f"camera id '{camera.id}' is also used by {camera_ids[camera.id]}",
                        "give each camera its own id",
                    )
                camera_ids.setdefault(camera.id, path)
                try:
                    mac = EUI(camera.mac)
                except (AddrFormatError, TypeError, ValueError):
                    self.add(
                        file,
                        f"{path}.mac",
                        "SCHEMA",
                        f"'{camera.mac}' is not a MAC address",
                        "write six hexadecimal pairs such as 3c:ef:8c:12:34:56",
                    )
                    continue
                if int(mac) >> 40 & 1:
                    self.add(
                        file,
                        f"{path}.mac",
                        "NET",
                        f"{camera.mac} is a multicast address",
                        "write the camera's own (unicast) MAC address from its label",
                    )
                key = str(mac)
                if key in macs:
                    self.add(
                        file,
                        f"{path}.mac",
                        "DUP",
                        f"MAC {camera.mac} is also used by {macs[key]}",
                        "check the label of each camera and correct the MAC",
                    )
                macs.setdefault(key, path)

    # -- addressing ------------------------------------------------------------------------
    def _in_subnet(self, file: str, path: str, address: IPv4Address, subnet: IPv4Network) -> None:
        if address not in subnet:
            self.add(
                file,
                path,
                "NET",
                f"{address} is outside the camera subnet {subnet}",
                f"use an address in {subnet} or correct camera_subnet",
            )
        elif address in (subnet.network_address, subnet.broadcast_address):
            self.add(
                file,
                path,
                "NET",
                f"{address} is the network or broadcast address of {subnet}",
                "use a host address",
            )

    def addressing(self) -> None:
        central = self.inventory.province.central
        subnets: list[tuple[IPv4Network, str]] = [
            (central.network, "province.central.network"),
            (central.wireguard.subnet, "province.central.wireguard.subnet"),
        ]
        tunnel_ips: dict[IPv4Address, str] = {central.wireguard.hub_ip: "the WireGuard hub"}
        wan_ips: dict[IPv4Address, str] = {}
        for facility in self.inventory.facilities:
            file = self.facility_file(facility)
            prefix = f"facilities[{facility.id}]"
            subnet = facility.camera_subnet
            for other, where in subnets:
                if subnet.overlaps(other):
                    self.add(
                        file,
                        f"{prefix}.camera_subnet",
                        "NET",
                        f"{subnet} overlaps {other} of {where}",
                        "give every facility its own camera subnet",
                    )
            subnets.append((subnet, prefix))
            used: dict[IPv4Address, str] = {}

            def claim(
                address: IPv4Address,
                path: str,
                owner: str,
                file: str = file,
                used: dict[IPv4Address, str] = used,
            ) -> None:
                if address in used:
                    self.add(
                        file,
                        path,
                        "NET",
                        f"{address} of {owner} is also used by {used[address]}",
                        "give every device its own address",
                    )
                used.setdefault(address, owner)

            self._in_subnet(file, f"{prefix}.nvr.ip", facility.nvr.ip, subnet)
            claim(facility.nvr.ip, f"{prefix}.nvr.ip", "the NVR")
            self._in_subnet(file, f"{prefix}.router.lan_ip", facility.router.lan_ip, subnet)
            claim(facility.router.lan_ip, f"{prefix}.router.lan_ip", "the router")
            for camera in facility.cameras:
                path = f"{prefix}.cameras[{camera.id}].ip"
                self._in_subnet(file, path, camera.ip, subnet)
                claim(camera.ip, path, f"camera {camera.id}")

            tunnel = facility.router.tunnel_ip
            if tunnel not in central.wireguard.subnet:
                self.add(
                    file,
                    f"{prefix}.router.tunnel_ip",
                    "NET",
                    f"{tunnel} is outside the tunnel subnet {central.wireguard.subnet}",
                    f"use a free address in {central.wireguard.subnet}",
                )
            if tunnel in tunnel_ips:
                self.add(
                    file,
                    f"{prefix}.router.tunnel_ip",
                    "NET",
                    f"tunnel address {tunnel} is also used by {tunnel_ips[tunnel]}",
                    f"use a free address in {central.wireguard.subnet}",
                )
            tunnel_ips.setdefault(tunnel, prefix)
            wan = facility.router.wan_ip.ip
            if wan in subnet:
                self.add(
                    file,
                    f"{prefix}.router.wan_ip",
                    "NET",
                    f"WAN address {wan} is inside the camera subnet {subnet}",
                    "the WAN and the camera LAN must be different networks",
                )
            if wan in wan_ips:
                self.add(
                    file,
                    f"{prefix}.router.wan_ip",
                    "NET",
                    f"WAN address {wan} is also used by {wan_ips[wan]}",
                    "give each site router its own WAN address",
                    severity=Severity.WARNING,
                )
            wan_ips.setdefault(wan, prefix)

    # -- secrets ---------------------------------------------------------------------------
    def credentials(self) -> None:
        for facility_id, path, reference in secrets.credential_refs(self.inventory):
            if not re.fullmatch(VAULT_REF_RE, reference):
                facility = self.inventory.facility(facility_id)
                self.add(
                    self.facility_file(facility),
                    path,
                    "SECRET",
                    "credential is not a vault variable name",
                    "write the name of a vault variable such as vault_camera_<id>; the "
                    "secret itself goes in an encrypted vault file",
                )

    # -- R3 / R4 capacity ------------------------------------------------------------------
    def capacity(self) -> None:
        report = sizing.size(self.inventory)
        for item in report.facilities:
            facility = self.inventory.facility(item.facility_id)
            if facility.status not in ACTIVE_STATUSES:
                continue
            file = self.facility_file(facility)
            prefix = f"facilities[{facility.id}]"
            if item.nvr_storage_gb is not None and item.nvr_storage_gb < item.storage_gb:
                self.add(
                    file,
                    f"{prefix}.nvr.storage_gb",
                    "R4",
                    f"the NVR disk ({item.nvr_storage_gb} GB) cannot hold the retention "
                    f"period: {item.storage_gb:.0f} GB needed with headroom",
                    f"fit at least {item.storage_gb:.0f} GB or lower camera bit rates",
                )
            if (
                item.uplink_available_mbps is not None
                and item.uplink_available_mbps < item.uplink_mbps
            ):
                self.add(
                    file,
                    f"{prefix}.uplink_mbps",
                    "R3",
                    f"the uplink ({item.uplink_available_mbps:g} Mbit/s) cannot carry every "
                    f"camera 24/7: {item.uplink_mbps:.1f} Mbit/s needed",
                    f"order a line of at least {item.uplink_mbps:.1f} Mbit/s or lower bit rates",
                )

    def streams(self) -> None:
        for facility in self.inventory.facilities:
            if facility.status in ACTIVE_STATUSES and not facility.cameras:
                self.add(
                    self.facility_file(facility),
                    f"facilities[{facility.id}].cameras",
                    "R3",
                    "facility has no cameras",
                    "list the facility's cameras",
                    severity=Severity.WARNING,
                )
            for camera in facility.cameras:
                if camera.codec != "h264":
                    self.add(
                        self.facility_file(facility),
                        f"facilities[{facility.id}].cameras[{camera.id}].codec",
                        "R2",
                        f"{camera.codec} cannot be played by the viewer's browsers",
                        "configure an H.264 stream for this camera",
                        severity=Severity.WARNING,
                    )

    # -- R3 / R11: who alerts reach ----------------------------------------------------------
    def contacts(self) -> None:
        province = self.inventory.province
        domains = province.email_domains
        people: list[tuple[str, str, Contact]] = [
            (PROVINCE_FILE, f"province.central.oncall[{i}]", c)
            for i, c in enumerate(province.central.oncall)
        ]
        for index, district in enumerate(province.districts):
            people += [
                (PROVINCE_FILE, f"province.districts[{index}].telecom_oncall[{i}]", c)
                for i, c in enumerate(district.telecom_oncall)
            ]
        for facility in self.inventory.facilities:
            people += [
                (self.facility_file(facility), f"facilities[{facility.id}].duty_team[{i}]", c)
                for i, c in enumerate(facility.duty_team)
            ]
        for file, path, contact in people:
            self._email(path, contact.name, contact.email, domains, file)
            self._phone(path, contact.name, contact.phone, file)
        if not province.central.oncall:
            self.add(
                PROVINCE_FILE,
                "province.central.oncall",
                "R3",
                "nobody is on call for the central site: its alerts (platform, recorders, the "
                "hub) reach no one",
                "add the central on-call engineers (name, phone, e-mail)",
                severity=Severity.WARNING,
            )
        active = [f for f in self.inventory.facilities if f.status is FacilityStatus.ACTIVE]
        with_oncall = {d.id for d in province.districts if d.telecom_oncall}
        for index, district in enumerate(province.districts):
            if district.id not in with_oncall and any(f.district == district.id for f in active):
                self.add(
                    PROVINCE_FILE,
                    f"province.districts[{index}].telecom_oncall",
                    "R3",
                    f"{district.name} has active facilities but no telecom on-call engineer: "
                    "their outages reach only the central on-call",
                    "add the telecom's on-call engineers for the district",
                    severity=Severity.WARNING,
                )
        for facility in active:
            if not facility.duty_team:
                self.add(
                    self.facility_file(facility),
                    f"facilities[{facility.id}].duty_team",
                    "R11",
                    f"facility '{facility.name}' has no duty team: nobody there is told to "
                    "put the substitute measure in place when a camera is down",
                    "add the facility's duty team (name, phone, e-mail)",
                    severity=Severity.WARNING,
                )

    # -- R6 / R7 ---------------------------------------------------------------------------
    def accounts(self) -> None:
        province = self.inventory.province
        districts = {district.id for district in province.districts}
        district_run = {
            facility.district
            for facility in self.inventory.facilities
            if facility.operator is Operator.DISTRICT
        }
        emails: dict[str, int] = {}
        phones: dict[str, int] = {}
        numbers: dict[int, int] = {}
        for index, account in enumerate(self.inventory.accounts):
            path = f"accounts[{index}]"
            who = account.full_name
            if account.stt is not None:
                if account.stt in numbers:
                    self.add(
                        ACCOUNTS_FILE,
                        f"{path}.stt",
                        "DUP",
                        f"Stt {account.stt} is also used by accounts[{numbers[account.stt]}]",
                        "number the rows 1, 2, 3…",
                    )
                numbers.setdefault(account.stt, index)
            email = self._email(path, who, account.email, province.email_domains)
            if email is not None:
                if email in emails:
                    self.add(
                        ACCOUNTS_FILE,
                        f"{path}.email",
                        "R6",
                        f"{email} is also the e-mail of accounts[{emails[email]}]; accounts "
                        "are personal and never shared",
                        "give each person their own account",
                    )
                emails.setdefault(email, index)
            phone = self._phone(path, who, account.phone)
            if phone is not None:
                if phone in phones:
                    self.add(
                        ACCOUNTS_FILE,
                        f"{path}.phone",
                        "R6",
                        f"{account.phone} is also the phone of accounts[{phones[phone]}]; "
                        "accounts are personal and never shared",
                        "give each person's own phone number",
                    )
                phones.setdefault(phone, index)
            self._scope(path, account, districts, district_run)

    def _email(
        self,
        path: str,
        who: str,
        value: str,
        domains: Iterable[str],
        file: str = ACCOUNTS_FILE,
    ) -> str | None:
        try:
            email = validate_email(value, check_deliverability=False).normalized.lower()
        except EmailNotValidError as error:
            self.add(
                file,
                f"{path}.email",
                "R6",
                f"'{value}' of {who} is not a valid e-mail address ({error})",
                "write the person's official e-mail address",
            )
            return None
        local, domain = email.rsplit("@", 1)
        allowed = list(domains)
        if not any(domain == item or domain.endswith(f".{item}") for item in allowed):
            self.add(
                file,
                f"{path}.email",
                "R6",
                f"{email} of {who} is not an official (mail công vụ) address",
                f"use an address under {', '.join(allowed)} "
                "(or add the domain to province.email_domains)",
            )
        if local in SHARED_MAILBOXES:
            self.add(
                file,
                f"{path}.email",
                "R6",
                f"{email} of {who} looks like an office mailbox, not a person's",
                "use the person's own official address",
                severity=Severity.WARNING,
            )
        return email

    def _phone(self, path: str, who: str, value: str, file: str = ACCOUNTS_FILE) -> str | None:
        try:
            number = phonenumbers.parse(value, "VN")
        except phonenumbers.NumberParseException:
            number = None
        if number is None or not phonenumbers.is_valid_number_for_region(number, "VN"):
            self.add(
                file,
                f"{path}.phone",
                "R6",
                f"'{value}' of {who} is not a Vietnamese phone number",
                "write a number such as 0912 345 678, +84 912 345 678 or 0277 3851 234",
            )
            return None
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

    def _scope(
        self, path: str, account: Account, districts: set[str], district_run: set[str]
    ) -> None:
        role, scope, district = account.role, account.scope, account.district
        where = f"{path}.scope"
        if role is Role.FACILITY_STAFF:
            self.add(
                ACCOUNTS_FILE,
                f"{path}.role",
                "R7",
                "facility management teams watch only on the facility's own screen and get "
                "no remote account (§II.6c)",
                "remove this account",
            )
            return
        if role is Role.DISTRICT_LEADER:
            if district is None:
                self.add(
                    ACCOUNTS_FILE,
                    where,
                    "R7",
                    f"role district_leader needs a district scope, not '{scope}'",
                    f"write 'district:<id>' with one of: {', '.join(sorted(districts))}",
                )
            elif district not in districts:
                self.add(
                    ACCOUNTS_FILE,
                    where,
                    "R7",
                    f"unknown district '{district}'",
                    f"use one of: {', '.join(sorted(districts))}",
                )
            elif district not in district_run:
                self.add(
                    ACCOUNTS_FILE,
                    where,
                    "R7",
                    f"district '{district}' runs no facility (Military-Command-run "
                    "facilities are seen by provincial roles only), so this account sees "
                    "nothing",
                    "check the scope, or keep the account for future facilities",
                    severity=Severity.WARNING,
                )
            return
        if scope != "province":
            self.add(
                ACCOUNTS_FILE,
                where,
                "R7",
                f"role {role} is province-wide; scope '{scope}' does not apply",
                "write scope: province",
            )


def validate(result: LoadResult) -> list[Problem]:
    """Every problem of a loaded inventory: parse errors, secrets and province-wide rules."""
    problems = list(result.problems)
    problems.extend(secrets.scan_documents(result.documents))
    if result.inventory is not None:
        problems.extend(Checker(result, result.inventory).run())
    return sorted(
        set(problems), key=lambda p: (p.severity != Severity.ERROR, p.file, p.path, p.rule)
    )


def validate_path(path: str | Path, vault_password_file: Path | None = None) -> list[Problem]:
    """Load and validate an inventory folder; optionally resolve vault references too."""
    result = load(path)
    problems = validate(result)
    if vault_password_file is not None and result.inventory is not None:
        problems.extend(check_vault_refs(result, vault_password_file))
    return problems


def check_vault_refs(result: LoadResult, password_file: Path) -> list[Problem]:
    """Every credential the model names is defined in the inventory's vault files."""
    assert result.inventory is not None  # noqa: S101  # callers check
    try:
        keys = vault.keys(Path(result.inventory.path), password_file)
    except vault.VaultError as error:
        return [Problem("group_vars", "", "SECRET", str(error), "check the vault password file")]
    problems = []
    for facility_id, path, reference in secrets.credential_refs(result.inventory):
        if re.fullmatch(VAULT_REF_RE, reference) and reference not in keys:
            problems.append(
                Problem(
                    result.facility_files.get(facility_id, ""),
                    path,
                    "SECRET",
                    f"vault variable '{reference}' is not defined",
                    "add it with: camops vault-init INVENTORY --vault-password-file FILE "
                    "(or ansible-vault edit group_vars/all/vault.yml)",
                )
            )
    return problems
