"""The camops command line, run as a user runs it (a real process)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import INVENTORIES, ROOT, InventoryCopy

CAMOPS = [sys.executable, "-m", "infra.cli"]


def camops(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CAMOPS, *map(str, args)], capture_output=True, text=True, cwd=ROOT, check=False
    )


@pytest.mark.parametrize("name", ["lab", "dong_thap"])
def test_committed_inventories_validate(name: str) -> None:
    run = camops("validate", INVENTORIES / name)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "0 error(s)" in run.stdout


def test_inventory_by_name() -> None:
    assert camops("validate", "lab").returncode == 0


def test_camera_in_a_toilet_exits_1_naming_camera_and_field(lab: InventoryCopy) -> None:
    lab.camera("lab_south_barracks", 1, lambda cam: cam.update(zone="Nhà vệ sinh chung"))
    run = camops("validate", lab.path)
    assert run.returncode == 1
    (line,) = [line for line in run.stdout.splitlines() if "ERROR [R1]" in line]
    assert "facilities[lab_south_barracks].cameras[south_cam02].zone" in line
    assert line.startswith("ERROR [R1] facilities/lab_south_barracks.yml:")
    assert "fix:" in line


def test_errors_and_warnings_go_to_one_stream_errors_first(lab: InventoryCopy) -> None:
    """`camops validate inv > out.txt` keeps every problem (errors went to stderr before)."""
    lab.camera("lab_south_barracks", 1, lambda cam: cam.update(zone="Nhà vệ sinh chung"))
    run = camops("validate", lab.path)
    assert run.returncode == 1 and run.stderr == ""
    lines = run.stdout.splitlines()
    kinds = [line.split()[0] for line in lines[:-1]]
    assert kinds == sorted(kinds)  # ERROR before WARNING
    assert kinds.count("ERROR") == 1 and kinds.count("WARNING") >= 1
    assert lines[-1].endswith(f"1 error(s), {kinds.count('WARNING')} warning(s)")


def test_validate_json(lab: InventoryCopy) -> None:
    lab.province(lambda p: p.update(retention_days=10))
    run = camops("validate", lab.path, "--json")
    assert run.returncode == 1
    data = json.loads(run.stdout)
    assert data["valid"] is False
    assert {"rule": "R4", "path": "province.retention_days"}.items() <= data["problems"][0].items()


def test_strict_fails_on_warnings() -> None:
    assert camops("validate", "lab", "--strict").returncode == 1


def test_missing_inventory_is_a_usage_error() -> None:
    run = camops("validate", "inventories/nowhere")
    assert run.returncode == 2
    assert "no such inventory folder" in run.stderr


def test_size_json() -> None:
    run = camops("size", "lab", "--json", "--headroom", "0")
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    # 7 cameras: sizing plans for every camera of the inventory (south_cam04 included, though
    # the rollout will not connect it until it conforms).
    assert data["central"]["cameras"] == 7
    assert data["central"]["storage_gb"] == pytest.approx(7 * 165.888)
    assert data["central"]["headroom"] == 0


def test_size_table() -> None:
    run = camops("size", "dong_thap")
    assert run.returncode == 0, run.stderr
    assert "recorder nodes 2" in run.stdout
    assert "dt_caolanh_city_ktx_cam12" in run.stdout


def test_size_refuses_an_invalid_inventory(lab: InventoryCopy) -> None:
    lab.camera("lab_north_school", 0, lambda cam: cam.update(zone="phòng 101"))
    run = camops("size", lab.path)
    assert run.returncode == 1
    assert "cameras[north_cam01].zone" in run.stderr


def test_access_matrix_csv() -> None:
    run = camops("access-matrix", "lab", "--format", "csv")
    assert run.returncode == 0
    assert run.stdout.count("\n") == 1 + 7 + 3 + 1 + 1  # header, 7 + 3 cameras, ops, auditor


def test_access_matrix_check(tmp_path: Path) -> None:
    out = tmp_path / "m.md"
    assert camops("access-matrix", "lab", "--output", out, "--check").returncode == 1
    assert camops("access-matrix", "lab", "--output", out).returncode == 0
    assert camops("access-matrix", "lab", "--output", out, "--check").returncode == 0
    for name in ("lab", "dong_thap"):
        doc = ROOT / "docs" / f"access-matrix-{name}.md"
        run = camops("access-matrix", name, "--output", doc, "--check")
        assert run.returncode == 0, run.stderr


def test_rollout_runs_this_environments_ansible_playbook_and_exits_with_its_code(
    lab: InventoryCopy, tmp_path: Path
) -> None:
    """The command line it shows is the one it runs; the vault's password goes by file, never
    on the command line; ansible-playbook's exit code is camops'."""
    password = tmp_path / "vault-pass"
    password.write_text("never-on-the-command-line\n", encoding="utf-8")
    base: list[str | Path] = [
        "rollout",
        "lab_north_school",
        "-i",
        lab.path,
        "--vault-password-file",
        password,
    ]
    run = camops(*base, "--syntax-check")
    assert run.returncode == 0, run.stderr
    shown = [line for line in run.stderr.splitlines() if line.startswith("+ ")]
    assert shown == [
        "+ "
        + " ".join(
            [
                str(Path(sys.executable).parent / "ansible-playbook"),
                str(ROOT / "playbooks" / "site_rollout.yml"),
                "-i",
                str(lab.path.resolve()),
                "-e",
                '{"site": "lab_north_school"}',
                "--syntax-check",
            ]
        )
    ]
    assert "never-on-the-command-line" not in run.stdout + run.stderr
    refused = camops(*base, "--no-such-option")
    assert refused.returncode == 2  # ansible-playbook's usage error
    assert "unrecognized arguments: --no-such-option" in refused.stderr


def test_a_platform_that_does_not_answer_is_an_error_naming_it(tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("automation-token\n", encoding="utf-8")
    url = "https://127.0.0.1:9"  # discard: nothing listens
    for command in (["audit", "access"], ["incidents"]):
        run = camops(*command, "--url", url, "--token-file", token)
        assert run.returncode == 1
        assert run.stderr.startswith(f"Error: {url}: ")
        assert "automation-token" not in run.stdout + run.stderr


def test_rollout_loads_the_inventory_once_and_names_an_unknown_facility(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`camops rollout` reads the inventory once (the playbook validates it again itself) and
    refuses a facility not in it with the wording the playbooks use, before any playbook."""
    from click.testing import CliRunner  # noqa: PLC0415

    from infra import loader  # noqa: PLC0415
    from infra import playbook as runner  # noqa: PLC0415
    from infra.cli import main  # noqa: PLC0415

    loads: list[str] = []
    real_load = loader.load

    def counted(path: Any, *args: Any, **kwargs: Any) -> loader.LoadResult:
        loads.append(str(path))
        return real_load(path, *args, **kwargs)

    started: list[str] = []

    def run(playbook: str, **_: Any) -> runner.PlaybookRun:
        started.append(playbook)
        return runner.PlaybookRun([playbook], 0)

    monkeypatch.setattr(loader, "load", counted)
    monkeypatch.setattr(runner, "run", run)
    cli = CliRunner()
    unknown = cli.invoke(main, ["rollout", "nowhere", "-i", str(INVENTORIES / "lab")])
    assert unknown.exit_code == 2, unknown.output
    assert "site='nowhere' is not a facility of this inventory; facilities: " in unknown.output
    assert "lab_north_school, lab_south_barracks" in unknown.output
    assert (started, len(loads)) == ([], 1)

    loads.clear()
    known = cli.invoke(main, ["rollout", "lab_north_school", "-i", str(INVENTORIES / "lab")])
    assert known.exit_code == 0, known.output
    assert (started, len(loads)) == (["site_rollout.yml"], 1)
