"""Prometheus metrics of the delivery pipeline."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

DELIVERIES = Counter(
    "gateway_deliveries_total",
    "Delivery attempts by outcome (delivered, retry, dead, paused, unwritable, lease_lost).",
    ["connection", "outcome"],
)
DELIVERY_LATENCY = Histogram(
    "gateway_delivery_latency_seconds",
    "From the change (outbox row written) to its successful delivery.",
    ["connection"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
)
PUSH_DURATION = Histogram(
    "gateway_push_duration_seconds",
    "Time spent in the adapter call for one delivery attempt.",
    ["connection"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
QUEUE_DEPTH = Gauge(
    "gateway_outbox_queue_depth", "Outbox rows not yet delivered, by state.", ["state"]
)
OLDEST_PENDING_AGE = Gauge(
    "gateway_outbox_oldest_pending_age_seconds", "Age of the oldest undelivered outbox row."
)
INBOUND_EVENTS = Counter(
    "gateway_inbound_events_total",
    "Inbound events (webhooks, polls) by connection and result: "
    "applied, ignored, duplicate, rejected, invalid.",
    ["connection", "result"],
)
CONNECTION_PAUSES = Counter(
    "gateway_connection_pauses_total",
    "Times a connection was paused because the remote refused our credentials.",
    ["connection"],
)
CONNECTION_PAUSED = Gauge(
    "gateway_connection_paused", "1 while the connection is paused, else 0.", ["connection"]
)
POLLS = Counter(
    "gateway_polls_total", "Polls of a connection by result (ok, failed).", ["connection", "result"]
)
POLL_REQUESTS = Counter(
    "gateway_poll_requests_total",
    "Requests polls made to the remote (an idle poll should make one).",
    ["connection"],
)
