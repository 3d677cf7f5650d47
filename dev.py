#!/usr/bin/env python3
"""Bootstrap a fresh machine with only Python 3.11: `python3 dev.py serve` / `python3 dev.py test`.

Creates `.venv`, installs the project (again only when pyproject.toml changed), then either serves
the gateway on SQLite with the example configuration or runs the whole check: ruff, mypy, pytest
on SQLite and PostgreSQL (started or installed first by `.ci/ensure-postgres` where needed),
against a real Redmine and a real Request Tracker (installed and started by `.ci/redmine` and
`.ci/rt`, which need root the first time).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / "bin"


def run(*args: str | Path, **kwargs: object) -> int:
    print("+", " ".join(map(str, args)), flush=True)
    return subprocess.call([str(a) for a in args], cwd=ROOT, **kwargs)  # type: ignore[arg-type]


def ensure_venv() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 (users may run an older python3)
        sys.exit(f"Python 3.11 or newer is needed, this is {sys.version.split()[0]}")
    if not (BIN / "python").exists() and run(sys.executable, "-m", "venv", VENV) != 0:
        sys.exit("could not create .venv (on Debian: apt-get install python3-venv)")
    stamp = (
        VENV
        / f".installed-{hashlib.sha256((ROOT / 'pyproject.toml').read_bytes()).hexdigest()[:16]}"
    )
    if stamp.exists():
        return
    quiet = ["--quiet", "--disable-pip-version-check"]
    if run(BIN / "python", "-m", "pip", "install", *quiet, "--upgrade", "pip") != 0:
        sys.exit("could not upgrade pip in .venv")
    if run(BIN / "python", "-m", "pip", "install", *quiet, "-e", ".[test]") != 0:
        sys.exit("could not install the project into .venv")
    for old in VENV.glob(".installed-*"):
        old.unlink()
    stamp.touch()


DEMO_ENVIRONMENT = {  # for the example connections only; a real deployment sets its own secrets
    "NGI_DE_HELPDESK_TOKEN": "demo-token",
    "NGI_DE_WEBHOOK_SECRET": "whsec_ZGVtby13ZWJob29rLXNlY3JldC1mb3ItdGhlLWV4YW1wbGU=",
    # examples/ggus-flow.yaml: examples/znuny_helpdesk.py and the Redmine of .ci/redmine
    "NGI_CZ_ZNUNY_URL": "http://127.0.0.1:8082/znuny/nph-genericinterface.pl/Webservice/GatewayConnector",
    "NGI_CZ_ZNUNY_PASSWORD": "demo-password",
    "NGI_CZ_ZNUNY_TOKEN": "demo-znuny-token",
    "DMSU_REDMINE_URL": "http://127.0.0.1:3100",
    "DMSU_REDMINE_API_KEY": "5eed0c1c0ffee5eed0c1c0ffee5eed0c1c0ffee0",  # .ci/redmine's test key
    "DMSU_REDMINE_PROJECT": "ngi-cz",
    # examples/rt-flow.yaml: the Request Tracker of .ci/rt
    "DMSU_RT_URL": "http://127.0.0.1:3200",
    "DMSU_RT_PASSWORD": "rt-ci-root-password",  # .ci/rt's loopback-only test instance
    "DMSU_RT_WEBHOOK_SECRET": "whsec_ZGVtby1ydC1zY3JpcC1zZWNyZXQtZm9yLXRoZS1leGFtcGxl",
}


def serve(extra: list[str]) -> int:
    """The gateway, and with the example configuration the mail sink it sends to
    (examples/mail_sink.py on 127.0.0.1:2526, messages kept under data/mail-sink/)."""
    example = "--config" not in extra
    config = ["--config", "examples/gateway.yaml"] if example else []
    for name, value in DEMO_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
    if not example:
        os.execv(BIN / "gateway", [str(BIN / "gateway"), "serve", *config, *extra])
    sink = subprocess.Popen([str(BIN / "python"), "examples/mail_sink.py"], cwd=ROOT)
    gateway = subprocess.Popen([str(BIN / "gateway"), "serve", *config, *extra], cwd=ROOT)
    try:
        return gateway.wait()
    except KeyboardInterrupt:  # Ctrl-C reached both; let the gateway stop gracefully
        return gateway.wait()
    finally:
        sink.terminate()
        sink.wait()


def test(extra: list[str]) -> int:
    for system, script in (("Redmine", ".ci/redmine"), ("Request Tracker", ".ci/rt")):
        if run("bash", script) != 0:  # the real systems the adapter tests talk to
            if os.environ.get("CI"):
                print(f"{system} could not be started: that is a failure in CI", flush=True)
                return 1
            print(f"{system} could not be started here: its tests are skipped", flush=True)
    steps: list[list[str | Path]] = [
        ["bash", ".ci/ensure-postgres"],
        [BIN / "ruff", "check", "."],
        [BIN / "ruff", "format", "--check", "."],
        [BIN / "mypy"],
        [BIN / "python", "-m", "pytest", *extra],
    ]
    for step in steps:
        code = run(*step)
        if code == 5 and step[1:3] == ["-m", "pytest"]:
            print("pytest collected no tests: that is a failure here", flush=True)
            return 1
        if code != 0:
            return code
    return 0


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in ("serve", "test", "setup"):
        print(__doc__)
        return 2
    ensure_venv()
    command, extra = sys.argv[1], sys.argv[2:]
    if command == "serve":
        return serve(extra)
    if command == "test":
        return test(extra)
    return 0


if __name__ == "__main__":
    sys.exit(main())
