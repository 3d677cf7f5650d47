"""The jobs every gateway process schedules (the same list everywhere: the rows are shared)."""

from __future__ import annotations

from gateway.config.models import GatewayConfig
from gateway.digest.service import weekly_digests
from gateway.metrics.gauges import compute_snapshot
from gateway.process import deadlines
from gateway.process.eta import escalate_expired_etas
from gateway.scheduler.job import Job


def process_jobs(config: GatewayConfig) -> list[Job]:
    every = config.process.check_every_seconds
    return [
        Job("reply-reminders", every, deadlines.remind_waiting),
        Job("auto-close", every, deadlines.close_solved),
        Job("response-targets", every, deadlines.watch_response_targets),
        Job("eta-expiry", every, escalate_expired_etas),
        Job("weekly-digest", max(every, 600.0), weekly_digests),
        Job("unit-metrics", max(every, 900.0), compute_snapshot),
    ]
