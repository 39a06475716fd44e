"""No secret in any log (issue [4]): after the other lab tests have rolled out, recorded,
logged in, watched and exported, no vault value appears in the lab hosts' journals, nginx or
PostgreSQL logs, their process lists (``ps`` shows every process's arguments to every user:
the recorders' ffmpeg gets its camera's address on stdin), nor in the output of any playbook
the tests ran.

Named to run after the other lab tests and before the lifecycle test takes the lab down.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from camops_lab import lab as lab_module
from infra import vault
from tests.lab.conftest import PLAYBOOK_OUTPUT, ssh

LOGS = (
    "journalctl --no-pager -o cat"
    " ; cat /var/log/nginx/*.log 2>/dev/null"
    " ; cat /var/log/postgresql/*.log 2>/dev/null"
    " ; ps -eww -o args"
    " ; true"
)


def values(data: Any) -> list[str]:
    """Every leaf string of the vault (passwords, tokens, keys), not the user names."""
    if isinstance(data, dict):
        return [v for key, item in data.items() if key != "username" for v in values(item)]
    if isinstance(data, list):
        return [v for item in data for v in values(item)]
    return [str(data)] if data is not None else []


def test_no_secret_in_any_log(estate: lab_module.Lab) -> None:
    secrets = values(vault.read(estate.vault_file, estate.vault_password_file))
    # (Only counts in assertions: pytest would print the values of a failing expression.)
    count = len(secrets)
    assert count >= 15, "cameras, S3 keys, tokens, first passwords expected in the vault"
    forms = {form for secret in secrets for form in (secret, quote(secret, safe=""))}
    texts = {"playbook output": "\n".join(PLAYBOOK_OUTPUT)}
    assert PLAYBOOK_OUTPUT, "the estate fixture ran no playbook?"
    for host in estate.plan.hosts:
        run = ssh(estate, host, f"sudo sh -c '{LOGS}'")
        assert run.returncode == 0, run.stderr
        assert len(run.stdout) > 500, f"{host.name}: no logs read"
        texts[host.name] = run.stdout
    leaks = [
        f"{where}: a vault value (…{form[-4:]})"
        for where, text in texts.items()
        for form in forms
        if len(form) >= 8 and form in text
    ]
    assert leaks == []
