"""Drift findings from a real check run (``--check --diff``, Ansible's JSON callback) of a
playbook on the controller: a file changed by hand, a loop item, a failed task, and nothing
for a converged one."""

from __future__ import annotations

import os
from pathlib import Path

from infra.drift import (
    CENTRAL,
    CheckRun,
    Finding,
    check_run,
    diff_lines,
    document,
    drifted,
    findings,
)

PLAYBOOK = """\
- name: An estate of two files
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: The intended file
      ansible.builtin.copy:
        content: "intended\\n"
        dest: "{{ folder }}/one.conf"
        mode: "0644"
    - name: The intended files of a loop
      ansible.builtin.copy:
        content: "{{ item }}\\n"
        dest: "{{ folder }}/{{ item }}.conf"
        mode: "0644"
      loop: [two, three]
"""


def test_a_converged_estate_has_no_finding_and_a_changed_file_is_one(tmp_path: Path) -> None:
    playbook = tmp_path / "estate.yml"
    playbook.write_text(PLAYBOOK, encoding="utf-8")
    for name, text in (("one", "intended"), ("two", "two"), ("three", "three")):
        (tmp_path / f"{name}.conf").write_text(text + "\n", encoding="utf-8")
        (tmp_path / f"{name}.conf").chmod(0o644)
    extra = {
        "folder": str(tmp_path),
        "ansible_python_interpreter": "{{ ansible_playbook_python }}",
    }
    env = dict(os.environ)
    clean = check_run(str(playbook), "localhost,", extra, env)
    assert findings(clean, "lab_north_school") == []

    (tmp_path / "one.conf").write_text("edited by hand\n", encoding="utf-8")
    (tmp_path / "three.conf").unlink()
    found = findings(check_run(str(playbook), "localhost,", extra, env), "lab_north_school")
    assert [(f.facility, f.host, f.task, f.kind, f.detail) for f in found] == [
        ("lab_north_school", "localhost", "The intended file", "changed", ""),
        ("lab_north_school", "localhost", "The intended files of a loop", "changed", "three"),
    ]
    assert found[0].before == "edited by hand" and found[0].after == "intended"
    assert (tmp_path / "one.conf").read_text(encoding="utf-8") == "edited by hand\n"  # check mode


def test_the_report_document_and_the_diff_for_people() -> None:
    finding = Finding(
        "lab_north_school",
        "rtr-north",
        "R9 | The router's forwarding policy is live",
        "changed",
        before="table inet camops_router {\n\tchain forward {\n\t}\n}",
        after="table inet camops_router {\n\tchain forward {\n\t\tip daddr 10.1.0.2 accept\n\t}\n}",
    )
    clean = CheckRun(CENTRAL, "central.yml", 0, 12.3, [])
    dirty = CheckRun("lab_north_school", "drift_check.yml", 0, 20.0, [finding])
    assert not drifted([clean])
    assert drifted([clean, dirty])
    broken = CheckRun("lab_south_barracks", "drift_check.yml", 4, 1.0, [], error="no such host")
    assert drifted([clean, broken]), "a check that could not run is never 'no drift'"

    report = document("lab", [clean, dirty], {"lab_south_barracks": "status standby"})
    assert report["drift"] is True and report["findings"] == 1
    assert report["not_checked"] == {"lab_south_barracks": "status standby"}
    assert report["checked"][1]["findings"][0]["host"] == "rtr-north"
    assert report["checked"][1]["findings"][0]["after"].endswith("}")

    lines = diff_lines(finding)
    assert "+\t\tip daddr 10.1.0.2 accept" in lines
    assert lines[0].startswith("--- before (live)")
    many = Finding("x", "h", "t", "changed", before="", after="\n".join(map(str, range(100))))
    cut = diff_lines(many, limit=10)
    assert len(cut) == 11 and cut[-1].startswith("... ")


def test_a_failed_task_and_an_unreachable_host_are_findings() -> None:
    doc = {
        "plays": [
            {
                "tasks": [
                    {
                        "task": {"name": "Each connected camera records"},
                        "hosts": {
                            "nvr-north": {"failed": True, "msg": "north_cam02: no segment"},
                            "nvr-south": {"unreachable": True, "msg": "ssh: timed out"},
                            "nvr-east": {"failed": True, "ignore_errors": True, "msg": "ignored"},
                        },
                    }
                ]
            }
        ]
    }
    found = findings(doc, "lab_north_school")
    assert [(f.host, f.kind, f.detail) for f in found] == [
        ("nvr-north", "failed", "north_cam02: no segment"),
        ("nvr-south", "unreachable", "ssh: timed out"),
    ]
