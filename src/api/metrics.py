"""Prometheus metrics of the API process (``GET /api/metrics``), in their own registry."""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "olympus_api_requests",
            "HTTP requests by route and status",
            ["method", "route", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "olympus_api_request_seconds",
            "Time to the end of the response (streams included)",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.first_token = Histogram(
            "olympus_first_token_seconds",
            "Question to first answer token",
            ["backend"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.answers = Counter(
            "olympus_answers", "Answers by the backend that wrote them", ["backend"], registry=r
        )
        self.switches = Counter(
            "olympus_backend_switches",
            "Fallbacks from one backend to the next",
            ["from_backend", "to_backend"],
            registry=r,
        )
        self.fallbacks = Counter(
            "olympus_fallbacks",
            "Answers written by a later backend than the first choice, by why",
            ["reason"],
            registry=r,
        )
        self.queue_waits = Histogram(
            "olympus_answer_queue_wait_seconds",
            "Time questions waited for an engine slot (those that waited)",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.queue_rejections = Counter(
            "olympus_answer_queue_rejections",
            "Questions refused at once because the line was full",
            registry=r,
        )
        self.ingest_pages = Counter("olympus_ingest_pages", "Pages indexed", registry=r)
        self.ingest_rate = Histogram(
            "olympus_ingest_pages_per_second",
            "Indexing speed per document",
            buckets=(0.5, 1, 2, 5, 10, 20, 50, 100),
            registry=r,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)

    def ingested(self, pages: int, seconds: float) -> None:
        self.ingest_pages.inc(pages)
        if seconds > 0 and pages:
            self.ingest_rate.observe(pages / seconds)


FALLBACK_REASONS = (  # (words in the chain's reason, label); first match wins
    ("no first token", "first_token_timeout"),
    ("could not connect", "connect_timeout"),
    ("stalled", "stall"),
    ("not set up", "not_configured"),
    ("ended without an answer", "empty_answer"),
)


def fallback_reason(reason: str) -> str:
    """A small fixed label for why a backend was skipped (metrics need few label values).

    >>> fallback_reason("no first token within 90 s")
    'first_token_timeout'
    >>> fallback_reason("ConnectError: [Errno 111] Connection refused")
    'error'
    """
    text = reason.lower()
    return next((label for words, label in FALLBACK_REASONS if words in text), "error")


class MetricsMiddleware:
    """Counts every HTTP request and times it to its last byte, by route template."""

    def __init__(self, app: ASGIApp, metrics: Metrics, route: Callable[[Scope], str]) -> None:
        self.app = app
        self.metrics = metrics
        self.route = route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = self.route(scope)
            self.metrics.requests.labels(scope["method"], route, str(status["code"])).inc()
            self.metrics.latency.labels(route).observe(time.perf_counter() - started)
