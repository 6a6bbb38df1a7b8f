"""Prometheus metrics: request counts and latencies by route and status; the outbox worker's
deliveries and e-mails by outcome, and how long the oldest row due has waited.

The counts are this process's worker's (`serve` runs one); the waiting time is read from the
database when scraped, so every process shows the whole outbox's."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.services.outbox import Tally

logger = logging.getLogger("app.metrics")

Pending = Callable[[], Awaitable[Mapping[str, float]]]  # seconds waited, by kind


class OutboxCollector(Collector):
    def __init__(self, tally: Tally) -> None:
        self.tally = tally
        self.waiting: Mapping[str, float] = {}

    def collect(self) -> Iterator[Metric]:
        deliveries = CounterMetricFamily(
            "webhook_deliveries", "Webhook attempts by outcome", labels=["outcome"]
        )
        for outcome in ("succeeded", "failed", "refused"):
            deliveries.add_metric([outcome], self.tally.deliveries[outcome])
        yield deliveries
        emails = CounterMetricFamily("emails", "E-mails by outcome", labels=["outcome"])
        for outcome in ("sent", "failed"):
            emails.add_metric([outcome], self.tally.emails[outcome])
        yield emails
        oldest = GaugeMetricFamily(
            "outbox_oldest_pending_seconds",
            "How long the oldest e-mail or webhook attempt due has waited",
            labels=["kind"],
        )
        for kind, seconds in self.waiting.items():
            oldest.add_metric([kind], seconds)
        yield oldest


class Metrics:
    def __init__(self, tally: Tally | None = None, pending: Pending | None = None) -> None:
        self.registry = CollectorRegistry()
        self.outbox = OutboxCollector(tally or Tally())
        self.registry.register(self.outbox)
        self.pending = pending
        self.requests = Counter(
            "http_requests_total",
            "HTTP requests by path, method and status",
            ["path", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency by path",
            ["path"],
            registry=self.registry,
        )

    async def endpoint(self, request: Request) -> Response:
        if self.pending is not None:
            try:
                self.outbox.waiting = await self.pending()
            except Exception as error:  # the other metrics are shown without it
                logger.warning("The outbox's waiting time is unknown (%s)", type(error).__name__)
                self.outbox.waiting = {}
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics, paths: frozenset[str]) -> None:
        self.app = app
        self.metrics = metrics
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"] if scope["path"] in self.paths else "other"
        status = 500
        started = time.perf_counter()

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            self.metrics.latency.labels(path).observe(time.perf_counter() - started)
            self.metrics.requests.labels(path, scope["method"], str(status)).inc()
