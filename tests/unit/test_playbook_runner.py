"""The one playbook runner (infra/playbook.py): its command line, its environment, and a real
run of this environment's ansible-playbook on the controller (output kept, JSON callback)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from infra import playbook as runner

PLAYBOOK = """\
- name: Say what it was given
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: The greeting
      ansible.builtin.debug:
        msg: "{{ greeting }}"
"""


def test_the_command_line_is_this_environments_ansible_playbook_with_one_json_document() -> None:
    argv = runner.command(
        "site_rollout.yml",
        inventory="/srv/inv",
        extra_vars={"site": "lab_north_school", "decision_ref": "1234/QĐ-UBND ngày 15/11/2026"},
        check=True,
        diff=True,
        limit="nvr-north",
        args=["--tags", "x"],
    )
    assert argv[:2] == [
        str(Path(sys.executable).parent / "ansible-playbook"),
        str(runner.ROOT / "playbooks" / "site_rollout.yml"),
    ]
    assert argv[2:9] == ["-i", "/srv/inv", "--limit", "nvr-north", "--check", "--diff", "-e"]
    assert json.loads(argv[9]) == {
        "site": "lab_north_school",
        "decision_ref": "1234/QĐ-UBND ngày 15/11/2026",
    }
    assert "ngày" in argv[9]  # as written, not escaped
    assert argv[10:] == ["--tags", "x"]
    assert runner.command("/elsewhere/play.yml")[1:] == ["/elsewhere/play.yml"]


def test_the_environment_owns_the_config_and_names_the_vault_password_by_file(
    tmp_path: Path,
) -> None:
    password = tmp_path / "vault-pass"
    password.write_text("not-in-argv\n", encoding="utf-8")
    base = {"ANSIBLE_CONFIG": "/theirs.cfg", "PATH": "/bin"}
    env = runner.environment(base, vault_password_file=password, json_callback=True)
    assert env["ANSIBLE_CONFIG"] == str(runner.ROOT / "ansible.cfg")
    assert env["ANSIBLE_VAULT_PASSWORD_FILE"] == str(password.resolve())
    assert env["ANSIBLE_STDOUT_CALLBACK"] == "ansible.posix.json"
    assert env["PATH"] == "/bin" and base["ANSIBLE_CONFIG"] == "/theirs.cfg"  # base untouched
    kept = runner.environment(base, keep_config=True, overrides={"ANSIBLE_STRATEGY": "linear"})
    assert kept["ANSIBLE_CONFIG"] == "/theirs.cfg"
    assert kept["ANSIBLE_STRATEGY"] == "linear"
    assert "ANSIBLE_VAULT_PASSWORD_FILE" not in kept and "ANSIBLE_STDOUT_CALLBACK" not in kept
    inherited = runner.environment({"ANSIBLE_VAULT_PASSWORD_FILE": "/given"})
    assert inherited["ANSIBLE_VAULT_PASSWORD_FILE"] == "/given"


def test_a_real_run_with_output_kept_and_with_the_json_callback(tmp_path: Path) -> None:
    playbook = tmp_path / "hello.yml"
    playbook.write_text(PLAYBOOK, encoding="utf-8")
    lines: list[str] = []
    extra = {"greeting": "xin chào", "ansible_python_interpreter": "{{ ansible_playbook_python }}"}
    done = runner.run(playbook, inventory="localhost,", extra_vars=extra, echo=lines.append)
    assert done.ok, done.stdout + done.stderr
    assert "xin chào" in done.stdout and "PLAY RECAP" in done.stdout
    assert done.document is None
    assert lines == ["+ " + " ".join(done.command)]

    as_json = runner.run(playbook, inventory="localhost,", extra_vars=extra, json_callback=True)
    assert as_json.ok and as_json.error == ""
    assert as_json.document is not None
    [task] = as_json.document["plays"][0]["tasks"]
    assert task["hosts"]["localhost"]["msg"] == "xin chào"


def test_a_failed_run_says_why_and_raises_on_request(tmp_path: Path) -> None:
    missing = tmp_path / "missing.yml"
    done = runner.run(missing, inventory="localhost,", json_callback=True)
    assert not done.ok and done.document is None
    assert "missing.yml" in done.error
    with pytest.raises(Exception, match="returned non-zero exit status"):
        done.check_returncode()


def test_the_json_document_is_found_after_warnings() -> None:
    document, error = runner.parse_json_output('[WARNING]: x\n{"plays": []}\n')
    assert document == {"plays": []} and error == ""
    assert runner.parse_json_output("", "boom") == (None, "boom")
    assert runner.parse_json_output("{not json")[0] is None
