"""The `gateway` command as a user runs it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gateway.cli import app

EXAMPLE = str(Path(__file__).resolve().parents[2] / "examples" / "gateway.yaml")
runner = CliRunner()


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["serve"],
        ["migrate"],
        ["create-key"],
        ["export-openapi"],
        ["export-schemas"],
        ["check-config"],
    ],
)
def test_every_command_has_help(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_check_config_reports_each_bad_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("support_units: [{name: X, level: fourth}]\nextra: 1\n", encoding="utf-8")
    result = runner.invoke(app, ["check-config", str(bad)])
    assert result.exit_code == 2
    assert "support_units[0].level" in result.output
    assert "extra: unknown key" in result.output
    monkeypatch.delenv("NGI_DE_WEBHOOK_SECRET", raising=False)
    monkeypatch.setenv("NGI_DE_HELPDESK_TOKEN", "t")
    missing = runner.invoke(app, ["check-config", EXAMPLE])
    assert missing.exit_code == 2
    assert "connections[0].settings.webhook_secrets[0]" in missing.output
    assert "environment variable NGI_DE_WEBHOOK_SECRET is not set" in missing.output
    monkeypatch.setenv("NGI_DE_WEBHOOK_SECRET", "whsec_c2VjcmV0")
    ok = runner.invoke(app, ["check-config", EXAMPLE])
    assert ok.exit_code == 0, ok.output
    assert '"connections": ["ngi-de-helpdesk", "mail", "dcache-mail"]' in ok.output


def test_create_key_prints_a_usable_key_once(tmp_path: Path) -> None:
    env = {"GATEWAY_DATA_DIR": str(tmp_path)}
    args = [sys.executable, "-m", "gateway.cli", "create-key", "--name", "ngi", "--config", EXAMPLE]
    unit = subprocess.run(
        [*args, "--role", "unit", "--support-unit", "NGI_DE"],
        env={**env, "PATH": ""},
        capture_output=True,
        text=True,
        check=False,
    )
    assert unit.returncode == 0, unit.stderr
    assert unit.stdout.startswith("gw_") and len(unit.stdout.strip()) > 40
    wrong = subprocess.run(
        [*args, "--role", "unit", "--support-unit", "NOPE"],
        env={**env, "PATH": ""},
        capture_output=True,
        text=True,
        check=False,
    )
    assert wrong.returncode == 2
    assert "support_unit 'NOPE' does not exist" in wrong.stderr
    assert (tmp_path / "gateway.sqlite3").exists()


def test_export_openapi_writes_the_document(tmp_path: Path) -> None:
    out = tmp_path / "openapi.json"
    result = runner.invoke(app, ["export-openapi", "--output", str(out)])
    assert result.exit_code == 0
    assert '"/api/v1/tickets"' in out.read_text(encoding="utf-8")
