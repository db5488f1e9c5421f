"""Background provisioning: make sure the model is there, hand llama.cpp its file, warm up.

Runs ``src.models.provisioning.ensure_model`` in a daemon thread while the UI is already up, and
publishes every step in the ``provisioning`` status section. It never starts processes
itself (PDEATHSIG is tied to the main thread): it hands the model path to the supervisor
through ``on_model`` and waits for the engine to answer before warming llama.cpp up.
"""

from __future__ import annotations

import functools
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from shared_utils.errors import BackendUnavailable, OlympusError
from src.settings import Settings
from src.supervisor.publisher import StatusPublisher, as_dict

if TYPE_CHECKING:
    from src.models.profile import Profile

logger = structlog.get_logger(__name__)


class Provisioner(threading.Thread):
    def __init__(
        self,
        settings: Settings,
        profile: Profile,
        *,
        provision: Callable[..., Any],
        publisher: StatusPublisher,
        on_model: Callable[[Path], None],
        engine_url: Callable[[float], str | None],
        warm_up: Callable[[str, float], float] | None = None,
        clock: Callable[[], float] = time.monotonic,
        t0: float = 0.0,
    ) -> None:
        super().__init__(name="provisioning", daemon=True)
        self.settings = settings
        self.profile = profile
        self.provision = provision
        self.publisher = publisher
        self.publish = publisher.section("provisioning")
        self.on_model = on_model
        self.engine_url = engine_url  # waits up to N s for the engine; its URL or None
        self.warm_up = warm_up or functools.partial(
            llamacpp_warm_up, slots=profile.parallel_answers
        )
        self.clock = clock
        self.t0 = t0

    def run(self) -> None:
        model = self.profile.model
        started = self.clock()
        self.publish(phase="checking", model=model, error="")
        try:
            result = self.provision(
                self.settings,
                self.profile,
                progress=self.publisher.progress(model),
                status=self.publisher.status,
            )
        except OlympusError as exc:
            logger.error("provisioning failed", error=exc.message, hint=exc.hint)
            self.publish(phase="failed", error=str(exc), model=model)
            return
        except Exception as exc:  # a bug must show in the status, not vanish
            logger.exception("provisioning crashed")
            self.publish(phase="failed", error=f"{type(exc).__name__}: {exc}", model=model)
            return
        fields = _result_fields(result)
        path = model_path_of(result)
        if self.profile.engine == "llamacpp" and path is not None:
            self.on_model(path)
            self.publish(phase="waiting_for_engine", **fields)
            url = self.engine_url(self.settings.engine_ready_timeout_s + 5)
            if url is None:
                self.publish(
                    phase="failed",
                    error="the engine did not become ready; see the engine status",
                    **fields,
                )
                return
            try:
                fields["warm_up_s"] = round(
                    self.warm_up(url, self.settings.first_token_timeout_s + 30), 3
                )
            except OlympusError as exc:
                logger.warning("warm-up failed; the first question pays the load", error=str(exc))
                fields["warning"] = f"warm-up failed: {exc}"
        self.publish(
            phase="ready",
            error="",
            elapsed_s=round(self.clock() - started, 3),
            ready_at_s=round(self.clock() - self.t0, 3),
            **fields,
        )
        logger.info(
            "model ready",
            model=fields.get("model", model),
            path=str(path or ""),
            warm_up_s=fields.get("warm_up_s"),
        )


def model_path_of(result: Any) -> Path | None:
    """The GGUF path in a provisioning result (a path, or an object with ``path``)."""
    if isinstance(result, (str, Path)):
        return Path(result)
    value = getattr(result, "path", None)
    return Path(value) if value else None


def _result_fields(result: Any) -> dict[str, Any]:
    if result is None or isinstance(result, (str, Path)):
        return {"model_path": str(result or "")}
    fields = as_dict(result)
    if "path" in fields:
        fields["model_path"] = fields.pop("path") or ""
    fields.pop("engine", None)  # the engine section owns that name
    return fields


WARM_UP_TOKENS = 8  # long enough that the requests of all slots are in flight together


def llamacpp_warm_up(url: str, timeout_s: float, *, slots: int = 1) -> float:
    """Load the model and put the answers' shared prompt prefix (the system prompt and the
    sources' header) in every slot's cache: one short chat completion per slot, all at once
    (requests in flight together take different slots; llama.cpp's ``id_slot`` would pick the
    slot but, in the version we ship, its prompt is then not reused). Each slot then reads only
    a question's own part; a slot left cold made the first questions that landed on it read
    the whole prefix again (~120 tokens, a second on 2 cores)."""
    from src.answer.prompt import SOURCES_HEADER, SYSTEM_PROMPT

    body = json.dumps(
        {
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": SOURCES_HEADER},
            ],
            "max_tokens": WARM_UP_TOKENS,
            "temperature": 0,
        }
    ).encode()
    errors: list[BaseException] = []

    def one() -> None:
        req = urllib.request.Request(
            f"{url}/v1/chat/completions", data=body, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=timeout_s) as resp:  # local URL
                resp.read()
        except (urllib.error.URLError, OSError) as exc:
            errors.append(exc)

    started = time.monotonic()
    threads = [threading.Thread(target=one) for _ in range(max(1, slots))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout_s)
    if errors:
        raise BackendUnavailable(f"llama.cpp warm-up request to {url} failed: {errors[0]}")
    return time.monotonic() - started


# --- the supervisor's default collaborators (imported lazily: the supervisor stays light) ------
def detect_profile(settings: Settings) -> Profile:
    from src.models.profile import detect

    return detect(settings)


def provision(settings: Settings, profile: Profile, **kwargs: Any) -> Any:
    """``src.models.provisioning.ensure_model``: the model the engine serves (downloaded if need be)."""
    from src.models.provisioning import ensure_model

    return ensure_model(settings, profile, **kwargs)


def local_model_path(settings: Settings, profile: Profile) -> Path | None:
    """The GGUF llama.cpp should serve when it is on disk already, else None."""
    from src.models.provisioning import local_llamacpp_model

    ready = local_llamacpp_model(settings, profile)
    return ready.path if ready is not None else None
