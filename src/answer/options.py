"""Per-question choices a chat or an API client makes: model, backend and decoding fields."""

from __future__ import annotations

from dataclasses import dataclass, replace

from shared_utils.generation.base import GenerationOptions


@dataclass(frozen=True, slots=True)
class AskOptions:
    """Per-question choices (a chat's settings); None/"" keeps the process-wide default.

    ``model``: the engine backend's model (see ``BackendPlan.with_model``); ``backend``: force
    one backend (as ``ask(backend=...)``); ``temperature``; ``max_tokens``: the answer length
    (small models keep their smaller cap, ``src/answer/decoding.py``); ``top_p``, ``seed`` and
    ``stop`` (added to Olympus' own stop strings) as an API client sends them."""

    model: str = ""
    backend: str = ""
    temperature: float | None = None
    max_tokens: int | None = None
    top_p: float | None = None
    seed: int | None = None
    stop: tuple[str, ...] = ()

    def generation(self, base: GenerationOptions) -> GenerationOptions:
        return replace(
            base,
            temperature=base.temperature if self.temperature is None else float(self.temperature),
            max_tokens=base.max_tokens if not self.max_tokens else int(self.max_tokens),
            top_p=base.top_p if self.top_p is None else float(self.top_p),
            seed=base.seed if self.seed is None else int(self.seed),
            stop=(*base.stop, *self.stop),
        )
