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


def test_the_answer_benchmark_reads_a_small_models_own_text_and_the_engines_first_token(
    settings,
) -> None:
    """A small model's text is kept back behind the evidence (not streamed): the benchmark's
    "own text" still scores what the model wrote, and its first token is the engine's, not
    the evidence shown before the engine was asked."""
    from benchmarks.answer_quality import run_one
    from tests.unit.test_answer import Scripted, _answerer

    wrote = "Upsd listens on port 3493 [1]. It reads ups.conf at start [1]."
    answerer = _answerer(settings, Scripted([wrote], model="qwen2.5-0.5b-instruct"))
    row = run_one(answerer, "Which port does upsd use?", [], None)
    assert row["mode"] == "extract+model" and row["own_text"] == wrote
    assert row["first_after_sources_s"] > row["first_text_after_sources_s"] >= 0
