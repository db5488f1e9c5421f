"""Which backends a question tries, built: the plan (asked again for every question, so
``models use`` applies at once, with the extractive safety net always last), the backends it
names built by the factory (one that cannot be built is skipped, with the reason), what
writes the answer (``src/answer/answering.py``) and each backend's health."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import structlog

from shared_utils.errors import BackendNotConfigured, OlympusError
from shared_utils.generation.base import Backend
from src.answer.answering import Answering, decide
from src.models.backends import SAFETY_NET, BackendPlan
from src.settings import Settings

logger = structlog.get_logger(__name__)

BackendFactory = Callable[[str, BackendPlan], Backend]
Planner = Callable[[], BackendPlan]


class BackendChoice:
    """The plan and its backends for one ``Answerer``. Thread-safe: nothing is kept."""

    def __init__(self, settings: Settings, planner: Planner, factory: BackendFactory) -> None:
        self.settings = settings
        self._planner = planner
        self._factory = factory

    def plan(self) -> BackendPlan:
        """The backends (and models) the next question will try, in order."""
        plan = self._planner()
        if SAFETY_NET not in plan.names:
            plan = replace(plan, names=(*plan.names, SAFETY_NET))
        return plan

    def plan_for(self, backend: str | None, model: str | None) -> BackendPlan:
        """The plan of one question: ``backend`` forced (the safety net kept behind it; raises
        UnknownBackend listing the valid names), asked for with ``model`` (not the extracts)."""
        plan = self.plan()
        if backend:
            plan = plan.forced(backend)
        if model and backend != SAFETY_NET:
            plan = plan.with_model(model)
        return plan

    def build(
        self, plan: BackendPlan, *, first_only: bool = False
    ) -> tuple[list[Backend], dict[str, str]]:
        """Backends to try, and those that could not even be built (with the reason)."""
        backends: list[Backend] = []
        skipped: dict[str, str] = {}
        for name in plan.names:
            try:
                backends.append(self._factory(name, plan))
            except OlympusError as exc:
                skipped[name] = str(exc)  # the message and how to fix it
                logger.info("backend_unavailable", backend=name, reason=str(exc))
            if first_only and backends:
                break
        return backends, skipped

    def decide(self, plan: BackendPlan, backends: list[Backend]) -> Answering:
        """What writes the answer, the engine asked; its model then names the answer."""
        answering = decide(plan, self.settings, backends[0] if backends else None)
        if backends and answering.reported and backends[0].name == answering.backend:
            backends[0].model_label = answering.model  # the engine's model names the answer
        return answering

    def answering(self, plan: BackendPlan | None = None) -> Answering:
        """What writes the next answer: the first backend that can be built is asked."""
        plan = plan or self.plan()
        return self.decide(plan, self.build(plan, first_only=True)[0])

    def health(self) -> dict[str, dict[str, object]]:
        """{backend name: {"ok": bool, "detail": str}} for each backend of the chain."""
        out: dict[str, dict[str, object]] = {}
        plan = self.plan()
        for name in plan.names:
            try:
                out[name] = dict(self._factory(name, plan).health())
            except BackendNotConfigured as exc:  # optional and not set up: not a failure
                out[name] = {"ok": False, "set_up": False, "detail": f"not set up: {exc}"}
            except OlympusError as exc:
                out[name] = {"ok": False, "detail": str(exc)}
        return out
