"""Monitoring from the model: scrape targets and Alertmanager's routing, checked with amtool."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from infra.loader import load
from infra.model import Inventory
from infra.monitoring import (
    Delivery,
    alertmanager_config,
    camera_targets,
    central_node_targets,
    facility_node_targets,
    tunnel_targets,
)
from tests.helpers import ROOT, InventoryCopy

TEMPLATE = ROOT / "roles" / "monitoring" / "files" / "camops.tmpl"
DELIVERY = Delivery(
    webhook_url="https://platform.lab.camops.vn/api/v1/alerts",
    smtp_smarthost="127.0.0.1:25",
    smtp_from="camops-alerts@lab.gov.vn",
    smtp_require_tls=False,
    webhook_ca_file="/etc/prometheus/camops-platform-ca.pem",
    webhook_token_file="/etc/prometheus/alertmanager-platform-token",
)


def amtool() -> str:
    tool = Path(sys.executable).parent / "amtool"
    if not tool.exists():
        pytest.fail("amtool is missing from the venv: run 'make setup' (scripts/debian-tools.sh)")
    return str(tool)


def model(path: Path) -> Inventory:
    result = load(path)
    assert result.inventory is not None
    return result.inventory


def write_config(tmp_path: Path, inventory: Inventory) -> Path:
    path = tmp_path / "alertmanager.yml"
    config = alertmanager_config(inventory, DELIVERY, templates=[str(TEMPLATE)])
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), "utf-8")
    return path


def receiver_of(config: Path, *labels: str) -> str:
    result = subprocess.run(
        [amtool(), "config", "routes", "test", f"--config.file={config}", *labels],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def test_every_camera_of_an_active_facility_is_probed_with_its_labels() -> None:
    inventory = model(ROOT / "inventories" / "lab")
    north = inventory.facility("lab_north_school")
    groups = camera_targets(inventory, north)
    assert [g["targets"] for g in groups] == [
        ["10.79.1.11:554"],
        ["10.79.1.12:554"],
        ["10.79.1.13:554"],
    ]
    assert groups[0]["labels"] == {
        "facility": "lab_north_school",
        "district": "lab_north",
        "district_name": "Huyện Bắc (lab)",
        "camera": "north_cam01",
    }
    [nvr] = facility_node_targets(inventory, north)
    assert nvr["targets"] == ["10.79.1.2:9100"] and nvr["labels"]["host"] == "nvr-north"
    [tunnel] = tunnel_targets(inventory, north)
    assert tunnel["targets"] == [str(north.router.tunnel_ip)]
    assert tunnel["labels"]["facility"] == "lab_north_school"
    assert tunnel["labels"]["host"] == "rtr-north"
    assert central_node_targets(inventory)[0]["targets"] == ["10.77.0.10:9100"]


def test_a_facility_not_active_is_not_watched() -> None:
    inventory = model(ROOT / "inventories" / "dong_thap")
    standby = inventory.facility("dt_thapmuoi_school")
    assert standby.status.value == "standby"
    assert camera_targets(inventory, standby) == []
    assert facility_node_targets(inventory, standby) == []
    assert tunnel_targets(inventory, standby) == []


def test_amtool_accepts_the_configuration(tmp_path: Path) -> None:
    for name in ("lab", "dong_thap"):
        config = write_config(tmp_path, model(ROOT / "inventories" / name))
        result = subprocess.run(
            [amtool(), "check-config", str(config)], capture_output=True, text=True, check=False
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_alerts_reach_the_duty_team_and_the_districts_telecom_on_call(tmp_path: Path) -> None:
    inventory = model(ROOT / "inventories" / "lab")
    config = write_config(tmp_path, inventory)
    assert receiver_of(config, "alertname=CameraDown", "facility=lab_north_school") == (
        "facility-lab_north_school"
    )
    assert receiver_of(config, "alertname=PlatformDown") == "central"
    document = yaml.safe_load(config.read_text(encoding="utf-8"))
    receivers = {r["name"]: r for r in document["receivers"]}
    north = receivers["facility-lab_north_school"]
    assert north["email_configs"][0]["to"] == "hvgac@bac.lab.gov.vn, lvmang@vnpt.vn"
    assert receivers["central"]["email_configs"][0]["to"] == "dvtruc@stttt.lab.gov.vn"
    # Every receiver also opens the platform's incident, and says when it is resolved.
    for receiver in receivers.values():
        [hook] = receiver["webhook_configs"]
        assert hook["url"] == DELIVERY.webhook_url and hook["send_resolved"] is True
        # Through the platform's HTTPS, with the token of scope incidents:write (a file).
        assert hook["http_config"] == {
            "tls_config": {"ca_file": DELIVERY.webhook_ca_file},
            "authorization": {"type": "Bearer", "credentials_file": DELIVERY.webhook_token_file},
        }
    assert document["route"]["repeat_interval"] == "15m"


def test_a_facility_nobody_is_named_for_goes_to_the_central_on_call(
    lab: InventoryCopy, tmp_path: Path
) -> None:
    lab.facility("lab_south_barracks", lambda f: f.pop("duty_team"))
    lab.province(lambda p: p["districts"][1].pop("telecom_oncall"))
    config = write_config(tmp_path, model(lab.path))
    document = yaml.safe_load(config.read_text(encoding="utf-8"))
    south = next(r for r in document["receivers"] if r["name"] == "facility-lab_south_barracks")
    assert south["email_configs"][0]["to"] == "dvtruc@stttt.lab.gov.vn"


def test_the_mail_templates_render() -> None:
    def render(text: str) -> str:
        return subprocess.run(
            [
                amtool(),
                "template",
                "render",
                f"--template.glob={TEMPLATE}",
                f"--template.text={text}",
            ],
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    assert render('{{ template "camops.subject" . }}').startswith("[camops] ")
    body = render('{{ template "camops.text" . }}')
    assert "Cơ sở / Facility:" in body and "Hướng dẫn xử lý / Runbook:" in body
    assert "Xác nhận sự cố trên nền tảng" in body
    assert render('{{ template "camops.html" . }}').startswith("<pre>")


def test_the_ansible_filters_give_the_same_documents() -> None:
    """Through Ansible itself (plugins/filter), as the monitoring role uses them."""
    expression = (
        "{{ {'am': 'inventories/lab' | camops_alertmanager_config({'smtp_smarthost': "
        "'127.0.0.1:25', 'smtp_from': 'camops-alerts@lab.gov.vn', 'smtp_require_tls': false}), "
        "'cams': 'inventories/lab' | camops_scrape_targets('cameras', 'lab_north_school', "
        "['north_cam01', 'north_cam03']), "
        "'tunnel': 'inventories/lab' | camops_scrape_targets('tunnel', 'lab_north_school') "
        "} | to_json }}"
    )
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "ansible"),
            "localhost",
            "-i",
            "localhost,",  # not the lab's inventory (its vault)
            "-c",
            "local",
            "-m",
            "ansible.builtin.debug",
            "-a",
            f"msg={expression}",
            "-o",
        ],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={
            **os.environ,
            "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"),
            "ANSIBLE_STRATEGY": "linear",
        },
    )
    message = json.loads(result.stdout.split("=>", 1)[1])["msg"]
    answer = json.loads(message) if isinstance(message, str) else message
    assert [g["labels"]["camera"] for g in answer["cams"]] == ["north_cam01", "north_cam03"]
    inventory = model(ROOT / "inventories" / "lab")
    assert answer["tunnel"] == tunnel_targets(inventory, inventory.facility("lab_north_school"))
    expected = alertmanager_config(
        inventory,
        Delivery(None, "127.0.0.1:25", "camops-alerts@lab.gov.vn", smtp_require_tls=False),
    )
    assert answer["am"] == expected
    assert "webhook_configs" not in answer["am"]["receivers"][0]  # no webhook given: mail only


def test_camops_alert_routing_checks_with_amtool_and_says_who_is_told(
    lab: InventoryCopy,
) -> None:
    from click.testing import CliRunner  # noqa: PLC0415

    from infra.cli import main  # noqa: PLC0415

    amtool()  # fails the test with how to install it, if missing
    runner = CliRunner()
    shown = runner.invoke(main, ["alert-routing", str(lab.path)])
    assert shown.exit_code == 0, shown.output
    assert yaml.safe_load(shown.output)["route"]["receiver"] == "central"
    checked = runner.invoke(main, ["alert-routing", str(lab.path), "--check"])
    assert checked.exit_code == 0, checked.output
    assert (
        "lab_north_school: facility-lab_north_school -> hvgac@bac.lab.gov.vn, lvmang@vnpt.vn"
        in checked.output
    )
    assert "the routing of" in checked.output and "is valid" in checked.output
    bad = runner.invoke(main, ["alert-routing", str(lab.path), "--smtp-smarthost", "no port"])
    assert bad.exit_code == 0  # shown as is; amtool is the judge
    refused = runner.invoke(
        main, ["alert-routing", str(lab.path), "--check", "--smtp-smarthost", "no port"]
    )
    assert refused.exit_code != 0
    assert "amtool rejects the routing" in refused.output
