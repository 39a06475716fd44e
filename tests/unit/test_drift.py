"""Drift findings from a real check run (``--check --diff``, Ansible's JSON callback) of a
playbook on the controller: a file changed by hand, a loop item, a failed task, and nothing
for a converged one."""

from __future__ import annotations

import os
from pathlib import Path

from infra.drift import check_run, findings

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
