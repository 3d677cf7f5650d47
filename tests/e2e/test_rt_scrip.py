"""RT's scrip (docs/rt-scrip.pl, put in place by `.ci/rt`) calls the hub's signed webhook on
every transaction, and the hub reads the change at once: a ticket resolved in the real RT is
solved at the hub within about a second, although the connection polls only once a minute. A
forged call changes nothing."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from examples.helpdesk import serving
from gateway.api.app import create_app
from gateway.config.loader import parse_config
from gateway.settings import Settings
from tests.e2e.test_rt_flow import eventually
from tests.e2e.test_two_helpdesks import admin_headers
from tests.support.cluster import free_port
from tests.support.rt import RT

ROOT = Path(__file__).resolve().parents[2]
SECRET = "whsec_cnQtc2NyaXAtc2VjcmV0LWZvci10aGUtdGVzdHM="


def scrip(url: str | None) -> None:
    """Put the scrip in place, pointing at `url`, or take it away (None)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RT_WEBHOOK_")}
    if url is not None:
        env |= {"RT_WEBHOOK_URL": url, "RT_WEBHOOK_SECRET": SECRET}
    subprocess.run(
        ["bash", str(ROOT / ".ci" / "rt")], env=env, check=True, capture_output=True, timeout=120
    )


@pytest.fixture
def hub_with_scrip(
    rt: RT, database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, int]]:
    if os.geteuid() != 0:
        if os.environ.get("CI"):
            pytest.fail("putting RT's scrip in place needs root", pytrace=False)
        pytest.skip("putting RT's scrip in place needs root")
    monkeypatch.setenv("E2E_RT_PASSWORD", rt.password)
    monkeypatch.setenv("E2E_RT_SECRET", SECRET)
    queue, _ = rt.new_queue()
    config = {
        "support_units": [{"name": "TPM", "level": "first"}, {"name": "DMSU", "level": "second"}],
        "routing": {"default_support_unit": "TPM"},
        "connections": [
            {
                "name": "dmsu-rt",
                "adapter": "rt",
                "support_unit": "DMSU",
                "poll_interval_seconds": 60,  # only the scrip can make it quick
                "settings": {
                    "url": rt.url,
                    "user": rt.user,
                    "password": {"env": "E2E_RT_PASSWORD"},
                    "queue": queue,
                    "webhook_secrets": [{"env": "E2E_RT_SECRET"}],
                },
            }
        ],
    }
    settings = Settings(database_url=database_url, data_dir=tmp_path, worker_poll_interval=0.2)
    app = create_app(settings, parse_config(config), run_worker=True)
    port = free_port()
    with serving(app, ready_path="/healthz", port=port) as url:
        scrip(f"{url}/api/v1/webhooks/dmsu-rt")
        try:
            yield url, port
        finally:
            scrip(None)


async def test_a_change_in_rt_reaches_the_hub_within_a_second_through_the_scrip(
    rt: RT, hub_with_scrip: tuple[str, int], database_url: str
) -> None:
    url, _ = hub_with_scrip
    headers = await admin_headers(database_url)
    async with httpx.AsyncClient(base_url=f"{url}/api/v1", headers=headers, timeout=30) as api:
        created = await api.post(
            "/tickets",
            json={
                "subject": "dCache door refuses TLS",
                "description": "since the CA update",
                "submitter": {"name": "Ann Example", "email": "ann@example.org"},
                "support_unit": "DMSU",
            },
        )
        hub_id = created.json()["id"]

        def link() -> str | None:
            found = httpx.get(f"{url}/api/v1/tickets/{hub_id}", headers=headers).json()
            return next((x["external_id"] for x in found["links"] if x["external_id"]), None)

        rt_id = await eventually(link, "the RT ticket")
        await asyncio.sleep(1.5)  # the create's own scrip calls are over
        forged = await api.post(
            "/webhooks/dmsu-rt",
            json={"type": "rt.transaction", "ticket": int(rt_id)},
            headers={"webhook-id": "x", "webhook-timestamp": "1", "webhook-signature": "v1,AA"},
        )
        assert forged.status_code == 401
        with rt.api(as_staff=True) as staff:
            staff.post(
                f"/ticket/{rt_id}/correspond",
                json={
                    "Content": "Renewed the host certificate",
                    "ContentType": "text/plain",
                    "Status": "resolved",
                },
            ).raise_for_status()
        changed = time.monotonic()
        while (await api.get(f"/tickets/{hub_id}")).json()["status"] != "solved":
            assert time.monotonic() - changed < 5, "not solved at the hub within 5 s"
            await asyncio.sleep(0.05)
        took = time.monotonic() - changed
        solution = (await api.get(f"/tickets/{hub_id}")).json()["solution"]
        assert solution == "Renewed the host certificate"
        assert took < 3, f"{took:.2f} s (bench/rt_sync.py measures the 1 s goal)"
