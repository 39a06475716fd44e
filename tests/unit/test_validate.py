"""Every validation rule, each with bad input that must fail, on copies of the lab inventory."""

from __future__ import annotations

from typing import Any

import pytest

from infra.problems import Severity
from tests.helpers import InventoryCopy, errors_at

NORTH = "lab_north_school"
SOUTH = "lab_south_barracks"
CAM = f"facilities[{NORTH}].cameras[north_cam01]"


def test_committed_inventories_have_no_errors(lab: InventoryCopy, dong_thap: InventoryCopy) -> None:
    for copy in (lab, dong_thap):
        assert [p.line() for p in copy.problems() if p.severity is Severity.ERROR] == []


# -- R1 --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "zone", ["nhà vệ sinh", "Nhà tắm tầng 3", "phòng cách ly 201", "toilet", "nha ve sinh"]
)
def test_r1_forbidden_zone_is_an_error_naming_the_camera(lab: InventoryCopy, zone: str) -> None:
    lab.camera(NORTH, 0, lambda cam: cam.update(zone=zone))
    found = errors_at(lab.problems(), f"{CAM}.zone", "R1")
    assert len(found) == 1
    assert "R1 forbids" in found[0].message
    assert found[0].file == f"facilities/{NORTH}.yml"


def test_r1_unknown_zone_lists_the_allowed_ones(lab: InventoryCopy) -> None:
    lab.camera(NORTH, 0, lambda cam: cam.update(zone="roof"))
    (found,) = errors_at(lab.problems(), f"{CAM}.zone", "R1")
    assert "unknown zone" in found.message
    assert "outside_shared_bathroom" in found.fix


def test_r1_location_inside_a_room_is_an_error(lab: InventoryCopy) -> None:
    lab.camera(NORTH, 0, lambda cam: cam.update(zone="corridor", location="Trong phòng 105"))
    assert errors_at(lab.problems(), f"{CAM}.location", "R1")


def test_r1_vietnamese_zone_labels_are_accepted(lab: InventoryCopy) -> None:
    lab.camera(NORTH, 0, lambda cam: cam.update(zone="Cổng ra vào"))
    assert not [p for p in lab.problems() if p.path == f"{CAM}.zone"]


def test_r1_missing_coverage_is_a_warning_listed_by_facility(lab: InventoryCopy) -> None:
    problems = lab.problems()
    coverage = [p for p in problems if p.rule == "R1" and p.path.endswith(".cameras")]
    assert {p.path for p in coverage} == {
        f"facilities[{NORTH}].cameras",
        f"facilities[{SOUTH}].cameras",
    }
    assert all(p.severity is Severity.WARNING for p in coverage)
    north = next(p for p in coverage if NORTH in p.path)
    assert "sample_taking" in north.message
    assert "supply_receipt" in north.message
    assert "gate" not in north.message


# -- duplicates and addressing -------------------------------------------------------------
def test_duplicate_camera_id(lab: InventoryCopy) -> None:
    lab.camera(NORTH, 1, lambda cam: cam.update(id="north_cam01"))
    found = [p for p in lab.problems() if p.rule == "DUP" and p.path.endswith(".id")]
    assert found
    assert "north_cam01" in found[0].message


def test_duplicate_camera_id_across_facilities(lab: InventoryCopy) -> None:
    lab.camera(SOUTH, 0, lambda cam: cam.update(id="north_cam01"))
    found = errors_at(lab.problems(), f"facilities[{SOUTH}].cameras[north_cam01].id", "DUP")
    assert found


def test_duplicate_camera_ip(lab: InventoryCopy) -> None:
    lab.camera(NORTH, 1, lambda cam: cam.update(ip="10.79.1.11"))
    found = errors_at(lab.problems(), f"facilities[{NORTH}].cameras[north_cam02].ip", "NET")
    assert found
    assert "camera north_cam01" in found[0].message


def test_duplicate_mac_in_any_spelling(lab: InventoryCopy) -> None:
    lab.camera(SOUTH, 0, lambda cam: cam.update(mac="02-42-0A-4F-01-0B"))
    assert errors_at(lab.problems(), f"facilities[{SOUTH}].cameras[south_cam01].mac", "DUP")


@pytest.mark.parametrize(
    ("mac", "rule"), [("02:42:zz:4f:01:0b", "SCHEMA"), ("01:00:5e:00:00:01", "NET")]
)
def test_bad_mac(lab: InventoryCopy, mac: str, rule: str) -> None:
    lab.camera(NORTH, 0, lambda cam: cam.update(mac=mac))
    assert errors_at(lab.problems(), f"{CAM}.mac", rule)


def test_camera_ip_outside_the_camera_subnet(lab: InventoryCopy) -> None:
    lab.camera(NORTH, 0, lambda cam: cam.update(ip="10.79.2.50"))
    (found,) = errors_at(lab.problems(), f"{CAM}.ip", "NET")
    assert "outside the camera subnet 10.79.1.0/24" in found.message


def test_camera_on_the_broadcast_address(lab: InventoryCopy) -> None:
    lab.camera(NORTH, 0, lambda cam: cam.update(ip="10.79.1.255"))
    assert errors_at(lab.problems(), f"{CAM}.ip", "NET")


def test_nvr_and_router_on_the_same_address(lab: InventoryCopy) -> None:
    lab.facility(NORTH, lambda f: f["nvr"].update(ip="10.79.1.1"))
    (found,) = errors_at(lab.problems(), f"facilities[{NORTH}].router.lan_ip", "NET")
    assert "the NVR" in found.message


def test_camera_on_the_nvr_address(lab: InventoryCopy) -> None:
    lab.camera(NORTH, 0, lambda cam: cam.update(ip="10.79.1.2"))
    assert errors_at(lab.problems(), f"{CAM}.ip", "NET")


def test_overlapping_camera_subnets(lab: InventoryCopy) -> None:
    def change(facility: dict[str, Any]) -> None:
        facility["camera_subnet"] = "10.79.0.0/16"

    lab.facility(SOUTH, change)
    assert errors_at(lab.problems(), f"facilities[{SOUTH}].camera_subnet", "NET")


def test_duplicate_tunnel_address(lab: InventoryCopy) -> None:
    lab.facility(SOUTH, lambda f: f["router"].update(tunnel_ip="10.99.0.11"))
    assert errors_at(lab.problems(), f"facilities[{SOUTH}].router.tunnel_ip", "NET")


def test_tunnel_address_outside_the_tunnel_subnet(lab: InventoryCopy) -> None:
    lab.facility(SOUTH, lambda f: f["router"].update(tunnel_ip="10.98.0.12"))
    assert errors_at(lab.problems(), f"facilities[{SOUTH}].router.tunnel_ip", "NET")


def test_duplicate_hostname(lab: InventoryCopy) -> None:
    lab.facility(SOUTH, lambda f: f["nvr"].update(hostname="nvr-north"))
    assert errors_at(lab.problems(), f"facilities[{SOUTH}].nvr.hostname", "DUP")


def test_missing_central_role(lab: InventoryCopy) -> None:
    lab.province(lambda p: p["central"]["hosts"][0].update(roles=["platform"]))
    found = errors_at(lab.problems(), "province.central.hosts", "SCHEMA")
    assert len(found) == 4


def test_unknown_district(lab: InventoryCopy) -> None:
    lab.facility(NORTH, lambda f: f.update(district="lab_east"))
    assert errors_at(lab.problems(), f"facilities[{NORTH}].district", "SCHEMA")


# -- R4 --------------------------------------------------------------------------------------
def test_r4_province_retention_below_30_days(lab: InventoryCopy) -> None:
    lab.province(lambda p: p.update(retention_days=29))
    (found,) = errors_at(lab.problems(), "province.retention_days", "R4")
    assert "29 days" in found.message


def test_r4_facility_retention_below_30_days(lab: InventoryCopy) -> None:
    lab.facility(NORTH, lambda f: f.update(retention_days=7))
    assert errors_at(lab.problems(), f"facilities[{NORTH}].retention_days", "R4")


def test_r4_camera_retention_below_30_days(lab: InventoryCopy) -> None:
    lab.camera(NORTH, 0, lambda cam: cam.update(retention_days=14))
    assert errors_at(lab.problems(), f"{CAM}.retention_days", "R4")


def test_r4_nvr_disk_too_small_for_retention(lab: InventoryCopy) -> None:
    lab.facility(NORTH, lambda f: f["nvr"].update(storage_gb=500))
    (found,) = errors_at(lab.problems(), f"facilities[{NORTH}].nvr.storage_gb", "R4")
    assert "597 GB" in found.message  # 3 x 512 kbit/s x 30 d x 1.2


def test_r3_uplink_too_small(lab: InventoryCopy) -> None:
    lab.facility(NORTH, lambda f: f.update(uplink_mbps=1))
    (found,) = errors_at(lab.problems(), f"facilities[{NORTH}].uplink_mbps", "R3")
    assert "1.8 Mbit/s" in found.message  # 3 x 0.512 x 1.15


# -- R6 --------------------------------------------------------------------------------------
def test_r6_email_outside_official_domains(lab: InventoryCopy) -> None:
    lab.account(0, lambda a: a.update(email="nvthu@gmail.com"))
    (found,) = errors_at(lab.problems(), "accounts[0].email", "R6")
    assert "official" in found.message


def test_r6_email_domain_is_configurable(lab: InventoryCopy) -> None:
    lab.province(lambda p: p.update(email_domains=["vnpt.vn"]))
    assert errors_at(lab.problems(), "accounts[0].email", "R6")


def test_r6_invalid_email(lab: InventoryCopy) -> None:
    lab.account(0, lambda a: a.update(email="not-an-address"))
    assert errors_at(lab.problems(), "accounts[0].email", "R6")


@pytest.mark.parametrize("phone", ["12345", "0123456789", "+1 202 555 0100", "091234567"])
def test_r6_phone_must_be_vietnamese(lab: InventoryCopy, phone: str) -> None:
    lab.account(0, lambda a: a.update(phone=phone))
    assert errors_at(lab.problems(), "accounts[0].phone", "R6")


@pytest.mark.parametrize("phone", ["0912 000 001", "+84 912 000 001", "0277 3851 234"])
def test_r6_phone_formats_accepted(lab: InventoryCopy, phone: str) -> None:
    lab.account(0, lambda a: a.update(phone=phone))
    assert not errors_at(lab.problems(), "accounts[0].phone")


def test_r6_shared_account_by_email(lab: InventoryCopy) -> None:
    lab.account(1, lambda a: a.update(email="NVThu@lab.gov.vn"))
    (found,) = errors_at(lab.problems(), "accounts[1].email", "R6")
    assert "never shared" in found.message


def test_r6_shared_account_by_phone(lab: InventoryCopy) -> None:
    lab.account(1, lambda a: a.update(phone="+84912000001"))
    assert errors_at(lab.problems(), "accounts[1].phone", "R6")


def test_r6_missing_form_field(lab: InventoryCopy) -> None:
    lab.account(0, lambda a: a.pop("unit"))
    (found,) = errors_at(lab.problems(), "accounts[0].unit", "SCHEMA")
    assert found.fix == "add this field"


def test_r6_office_mailbox_warning(lab: InventoryCopy) -> None:
    lab.account(0, lambda a: a.update(email="vanphong@lab.gov.vn"))
    found = [p for p in lab.problems() if p.path == "accounts[0].email"]
    assert [p.severity for p in found] == [Severity.WARNING]


# -- R7 --------------------------------------------------------------------------------------
def test_r7_facility_staff_get_no_remote_account(lab: InventoryCopy) -> None:
    lab.account(2, lambda a: a.update(role="facility_staff"))
    (found,) = errors_at(lab.problems(), "accounts[2].role", "R7")
    assert "no remote account" in found.message


def test_r7_district_role_needs_a_district(lab: InventoryCopy) -> None:
    lab.account(1, lambda a: a.update(scope="province"))
    assert errors_at(lab.problems(), "accounts[1].scope", "R7")


def test_r7_district_role_with_unknown_district(lab: InventoryCopy) -> None:
    lab.account(1, lambda a: a.update(scope="district:lab_east"))
    assert errors_at(lab.problems(), "accounts[1].scope", "R7")


def test_r7_provincial_role_with_a_district_scope(lab: InventoryCopy) -> None:
    lab.account(0, lambda a: a.update(scope="district:lab_north"))
    assert errors_at(lab.problems(), "accounts[0].scope", "R7")


def test_r7_district_leader_of_a_military_only_district_is_warned(lab: InventoryCopy) -> None:
    lab.account(1, lambda a: a.update(scope="district:lab_south"))
    found = [p for p in lab.problems() if p.path == "accounts[1].scope"]
    assert [p.severity for p in found] == [Severity.WARNING]
    assert "Military-Command" in found[0].message


def test_r7_unknown_role(lab: InventoryCopy) -> None:
    lab.account(0, lambda a: a.update(role="superuser"))
    assert errors_at(lab.problems(), "accounts[0].role", "SCHEMA")


# -- secrets -----------------------------------------------------------------------------------
def test_credential_must_be_a_vault_reference(lab: InventoryCopy) -> None:
    lab.camera(NORTH, 0, lambda cam: cam.update(credential="admin:12345"))
    assert errors_at(lab.problems(), f"{CAM}.credential", "SECRET")


def test_plaintext_password_anywhere_in_the_inventory(lab: InventoryCopy) -> None:
    lab.write("group_vars/all/site.yml", {"camera_admin_password": "hunter22"})
    found = errors_at(lab.problems(), "camera_admin_password", "SECRET")
    assert found
    assert found[0].file == "group_vars/all/site.yml"


def test_vault_references_are_not_secrets(lab: InventoryCopy) -> None:
    lab.write(
        "group_vars/all/site.yml",
        {"camera_admin_password": "{{ vault_camera_admin_password }}", "api_token": "vault_x"},
    )
    assert not [p for p in lab.problems() if p.rule == "SECRET"]


def test_url_with_embedded_password(lab: InventoryCopy) -> None:
    lab.camera(NORTH, 0, lambda cam: cam.update(location="rtsp://admin:12345@10.79.1.11/s"))
    assert errors_at(lab.problems(), "facility.cameras[0].location", "SECRET")


def test_unencrypted_vault_file(lab: InventoryCopy) -> None:
    lab.write("group_vars/all/vault.yml", {"vault_camera_north_cam01": {"password": "x"}})
    (found,) = [p for p in lab.problems() if p.file == "group_vars/all/vault.yml"]
    assert "not encrypted" in found.message


# -- structure ---------------------------------------------------------------------------------
def test_unknown_field_is_an_error(lab: InventoryCopy) -> None:
    lab.camera(NORTH, 0, lambda cam: cam.update(bitrate=4096))
    (found,) = errors_at(lab.problems(), f"{CAM}.bitrate", "SCHEMA")
    assert "spelling" in found.fix


def test_bad_type_names_the_field(lab: InventoryCopy) -> None:
    lab.camera(NORTH, 2, lambda cam: cam.update(ip="10.79.1.300"))
    assert errors_at(lab.problems(), f"facilities[{NORTH}].cameras[north_cam03].ip", "SCHEMA")


def test_bad_resolution(lab: InventoryCopy) -> None:
    lab.camera(NORTH, 0, lambda cam: cam.update(resolution="full hd"))
    (found,) = errors_at(lab.problems(), f"{CAM}.resolution", "SCHEMA")
    assert "1920x1080" in found.fix


@pytest.mark.parametrize(
    ("file", "text", "where"),
    [
        ("accounts.yml", "accounts:\n  - stt: 1\n   bad: [\n", "line 3, column 4"),
        (f"facilities/{NORTH}.yml", "facility:\n  id: x\n  name: [unclosed\n", "line 4, column 1"),
        ("province.yml", "province:\n  code: [\n", "line 3, column 1"),
    ],
)
def test_a_yaml_syntax_error_is_reported_once_with_its_line_and_column(
    lab: InventoryCopy, file: str, text: str, where: str
) -> None:
    """The file's one problem, where the parser stopped; no schema error about a file that was
    never read (an extra "no 'facility:' mapping" came first)."""
    (lab.path / file).write_text(text, "utf-8")
    found = [p for p in lab.problems() if p.file == file]
    assert [(p.rule, p.path) for p in found] == [("YAML", where)], [p.line() for p in found]


def test_libyaml_and_pure_python_loaders_give_the_same_places(lab: InventoryCopy) -> None:
    import yaml  # noqa: PLC0415

    from infra import loader  # noqa: PLC0415

    assert issubclass(loader._Loader, yaml.CSafeLoader)  # the C parser where PyYAML has it
    text = "facility:\n  id: x\n  cameras:\n    - {id: a\n  name: b\n"
    marks = []
    for base in (yaml.CSafeLoader, yaml.SafeLoader):
        with pytest.raises(yaml.YAMLError) as error:
            yaml.load(text, Loader=base)  # noqa: S506  # safe loaders
        mark = error.value.problem_mark  # type: ignore[attr-defined]
        marks.append((mark.line, mark.column))
    assert marks[0] == marks[1]


def test_a_duplicate_facility_id_names_both_files(lab: InventoryCopy) -> None:
    south = lab.read(f"facilities/{SOUTH}.yml")
    south["facility"]["id"] = NORTH  # e.g. a file copied and renamed, its id left as it was
    lab.write(f"facilities/{SOUTH}.yml", south)
    found = errors_at(lab.problems(), f"facilities[{NORTH}].id", "DUP")
    assert [p.file for p in found] == [f"facilities/{SOUTH}.yml"]
    assert f"also used by facilities/{NORTH}.yml" in found[0].message


def test_a_facility_file_in_a_subfolder_is_reported_not_loaded(lab: InventoryCopy) -> None:
    old = lab.read(f"facilities/{NORTH}.yml")
    lab.write(f"facilities/old/{NORTH}.yml", old)  # a copy kept "just in case"
    problems = lab.problems()
    [layout] = [p for p in problems if p.file == f"facilities/old/{NORTH}.yml"]
    assert (layout.rule, layout.severity) == ("LAYOUT", Severity.WARNING)
    assert "not read" in layout.message and "subfolders" in layout.message
    assert not [p for p in problems if p.rule == "DUP"]  # the copy was not loaded


def test_facility_file_name_matches_its_id(lab: InventoryCopy) -> None:
    lab.facility(NORTH, lambda f: f.update(id="lab_north_other"))
    assert errors_at(lab.problems(), "facilities[lab_north_other].id", "SCHEMA")


def test_one_bad_facility_does_not_hide_another(lab: InventoryCopy) -> None:
    lab.facility(NORTH, lambda f: f.pop("camera_subnet"))
    lab.camera(SOUTH, 0, lambda cam: cam.update(zone="nhà tắm"))
    problems = lab.problems()
    assert errors_at(problems, f"facilities[{NORTH}].camera_subnet", "SCHEMA")
    assert errors_at(problems, f"facilities[{SOUTH}].cameras[south_cam01].zone", "R1")


def test_decommissioned_facility_needs_its_decision(lab: InventoryCopy) -> None:
    lab.facility(NORTH, lambda f: f.update(status="removed"))
    assert errors_at(lab.problems(), f"facilities[{NORTH}].status_ref", "R13")


# -- R3 / R11: who alerts reach ---------------------------------------------------------------
def test_a_duty_team_member_needs_an_official_address_and_a_vietnamese_phone(
    lab: InventoryCopy,
) -> None:
    lab.facility(
        NORTH,
        lambda f: f["duty_team"][0].update(email="gac@gmail.com", phone="+1 202 555 0100"),
    )
    problems = lab.problems()
    (email,) = errors_at(problems, f"facilities[{NORTH}].duty_team[0].email", "R6")
    assert email.file == f"facilities/{NORTH}.yml" and "official" in email.message
    assert errors_at(problems, f"facilities[{NORTH}].duty_team[0].phone", "R6")


def test_telecom_and_central_on_call_contacts_are_checked(lab: InventoryCopy) -> None:
    def change(province: dict[str, Any]) -> None:
        province["districts"][0]["telecom_oncall"][0]["email"] = "not-an-address"
        province["central"]["oncall"][0]["phone"] = "12345"

    lab.province(change)
    problems = lab.problems()
    assert errors_at(problems, "province.districts[0].telecom_oncall[0].email", "R6")
    (phone,) = errors_at(problems, "province.central.oncall[0].phone", "R6")
    assert phone.file == "province.yml"


def test_nobody_to_alert_is_a_warning_naming_who_to_add(lab: InventoryCopy) -> None:
    lab.facility(NORTH, lambda f: f.pop("duty_team"))

    def unnamed(province: dict[str, Any]) -> None:
        province["districts"][0].pop("telecom_oncall")
        province["central"].pop("oncall")

    lab.province(unnamed)
    found = {
        (p.path, p.rule): p
        for p in lab.problems()
        if p.severity == Severity.WARNING and p.rule in {"R3", "R11"}
    }
    duty = found[(f"facilities[{NORTH}].duty_team", "R11")]
    assert "substitute measure" in duty.message and "duty team" in duty.fix
    assert ("province.districts[0].telecom_oncall", "R3") in found
    assert ("province.central.oncall", "R3") in found
    assert not errors_at(lab.problems(), f"facilities[{NORTH}].duty_team")
