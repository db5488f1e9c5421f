"""Doctests of the benchmark helpers (percentiles, tables, hit ranks) that produce the figures."""

from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize("name", ["benchmarks.common", "benchmarks.quality"])
def test_benchmark_doctests(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0


def test_latency_summary_reports_tail_percentiles() -> None:
    from benchmarks.common import latency_summary_ms

    summary = latency_summary_ms([0.010] * 95 + [0.100] * 5)
    assert summary["p50_ms"] == 10.0
    assert summary["p99_ms"] == 100.0
    assert summary["n"] == 100
