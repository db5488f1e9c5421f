"""Settings: read once from ``OLYMPUS_*`` environment variables (and an optional ``.env``).

This is the only module that reads the process environment. Everything else receives a
``Settings`` (or plain values from it) as an argument. Values left at ``None`` are derived
from the environment profile (see ``src/models/profile.py``); setting them overrides the profile.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared_utils.errors import SettingsError
from shared_utils.generation.base import GenerationOptions
from src.data_dir import DataDir

# A request's sampling and deadline defaults are the generation options' own (one owner).
_GENERATION = GenerationOptions()


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class Settings(BaseSettings):
    """Every setting of Olympus. README's configuration table documents each one."""

    model_config = SettingsConfigDict(
        env_prefix="OLYMPUS_", env_file=".env", extra="ignore", populate_by_name=True
    )

    # --- general ---------------------------------------------------------------------------
    data_dir: Path = Path("./data")
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: str = "INFO"
    password: str = Field(default="", repr=False)

    # --- access (the front before Streamlit; see src/front/ and src/access/roles.py) --------------
    admin_password: str = Field(default="", repr=False)  # admin role; see README, Security
    secret_key: str = Field(default="", repr=False)  # signs the browser cookie; empty: data dir
    allowed_hosts: str = ""  # comma list of extra Host names ("*": any, unsafe)
    behind_proxy: bool = False  # trust X-Forwarded-For/-Proto (always on a Space)
    session_hours: float = Field(default=168.0, gt=0)  # how long a sign-in lasts
    login_max_failures: int = Field(default=5, ge=1)  # per client address, then locked out
    login_global_max_failures: int = Field(default=50, ge=1)  # all addresses, per window
    login_lockout_s: float = Field(default=300.0, gt=0)  # the window and the lockout
    allow_model_pulls: bool | None = None  # None: on a bare machine, off on a Space
    streamlit_port: int | None = Field(default=None, ge=1, le=65535)  # internal; None: free

    # --- service API (src/api/: OpenAI-compatible /v1, search, documents, MCP) ----------------
    api_port: int | None = Field(default=None, ge=1, le=65535)  # internal; None: a free port
    api_public: bool = False  # the front forwards /v1 and /api from non-loopback clients
    # set by the supervisor for the UI child: the API process that owns the stores, and the
    # internal token it accepts; empty: the process opens the stores itself (tests, bare run)
    service_url: str = ""
    service_token: str = Field(default="", repr=False)

    # --- documents and ingestion -----------------------------------------------------------
    max_upload_mb: int = Field(default=100, ge=1, le=10_000)
    chunk_tokens: int = Field(default=200, ge=32, le=512)
    chunk_overlap_tokens: int = Field(default=40, ge=0, le=256)
    parse_timeout_s: float = Field(default=120.0, gt=0)
    embedding_model: str = "sentence-transformers/all-MiniLM-L6-v2"
    embedding_batch_size: int | None = Field(default=None, ge=1, le=4096)  # None: 8 CPU, 64 GPU
    embedding_device: str = "cpu"
    # auto: int8 on the CPU, fp32 on a GPU (see shared_utils/embeddings.py)
    embedding_precision: Literal["auto", "fp32", "int8"] = "auto"
    # OCR of pages without a usable text layer (Tesseract); off: such pages are reported only
    ocr: Literal["auto", "off"] = "auto"
    ocr_languages: str = "eng"  # Tesseract language codes joined by "+", e.g. "eng+deu"
    ocr_page_timeout_s: float = Field(default=60.0, gt=0)

    # --- limits for untrusted input (uploads from anyone who can reach the app) -------------
    parse_memory_mb: int = Field(default=1536, ge=256)  # address-space cap of the PDF worker
    max_pages: int = Field(default=5000, ge=1)
    max_page_chars: int = Field(default=100_000, ge=1000)
    max_document_chars: int = Field(default=10_000_000, ge=1000)
    max_chunks: int = Field(default=20_000, ge=1)
    index_hidden_text: bool = False  # keep invisible text (render mode 3, white, tiny), marked
    session_queue_mb: int = Field(default=250, ge=1)  # bytes of uploads waiting per session
    queue_mb: int = Field(default=500, ge=1)  # ... and in total
    session_queue_jobs: int = Field(default=10, ge=1)
    queue_jobs: int = Field(default=40, ge=1)
    max_chats: int = Field(default=200, ge=1)  # saved chats per browser
    max_chat_kb: int = Field(default=2048, ge=16)  # size of one saved chat (JSON, with passages)

    # --- retrieval -------------------------------------------------------------------------
    milvus_uri: str = ""  # empty: Milvus Lite under data_dir; http://host:19530 for a server
    milvus_token: str = Field(default="", repr=False)
    top_k: int | None = Field(default=None, ge=1, le=100)
    rrf_k: int = Field(default=60, ge=1)
    dense_weight: float = Field(default=1.0, ge=0)
    bm25_weight: float = Field(default=1.0, ge=0)
    neighbour_hops: int = Field(default=0, ge=0, le=3)
    keyword_index: Literal["auto", "bm25", "arango"] = "auto"
    max_query_chars: int = Field(default=2000, ge=10)

    # --- document store (ArangoDB when configured, embedded SQLite otherwise) ---------------
    arango_url: str = ""
    arango_db: str = "olympus"
    arango_user: str = "root"
    arango_password: str = Field(default="", repr=False)
    arango_start_local: bool = True  # start a local arangod when the binary exists and no URL
    arango_local_port: int = Field(default=8529, ge=1, le=65535)
    arango_memory_mb: int = Field(default=1024, ge=256)  # memory cap for the local arangod

    # --- generation ------------------------------------------------------------------------
    backends: str = ""  # comma list overriding the profile's chain, e.g. "ollama,extractive"
    ollama_host: str = Field(
        default="http://127.0.0.1:11434",
        validation_alias=_env("OLYMPUS_OLLAMA_HOST", "OLLAMA_HOST"),
    )
    ollama_model: str = ""  # active model name in Ollama; empty: the catalog's choice
    keep_alive: str = "30m"
    hf_token: str = Field(
        default="", repr=False, validation_alias=_env("OLYMPUS_HF_TOKEN", "HF_TOKEN")
    )
    hf_inference_model: str = "Qwen/Qwen2.5-7B-Instruct"
    openai_base_url: str = ""  # any OpenAI-compatible server for the hf_inference backend
    hf_endpoint: str = Field(
        default="", validation_alias=_env("OLYMPUS_HF_ENDPOINT", "HF_ENDPOINT")
    )
    hf_hub_offline: bool = Field(
        default=False, validation_alias=_env("OLYMPUS_HF_HUB_OFFLINE", "HF_HUB_OFFLINE")
    )
    llamacpp_model_path: str = ""  # a .gguf file; empty: the catalog's choice or SmolLM2
    llamacpp_port: int = Field(default=8088, ge=1, le=65535)
    connect_timeout_s: float = Field(default=_GENERATION.connect_timeout_s, gt=0)
    first_token_timeout_s: float = Field(default=_GENERATION.first_token_timeout_s, gt=0)
    stall_timeout_s: float = Field(default=_GENERATION.stall_timeout_s, gt=0)
    max_answer_tokens: int = Field(default=_GENERATION.max_tokens, ge=16, le=8192)
    temperature: float = Field(default=_GENERATION.temperature, ge=0, le=2)
    context_tokens: int | None = Field(default=None, ge=512, le=262_144)
    threads: int | None = Field(default=None, ge=1, le=512)
    # answers the engine writes at once (its slots; empty: the profile sizes them from memory,
    # context and cores) and questions that may wait for a slot before a new one is refused
    parallel_answers: int | None = Field(default=None, ge=1, le=64)
    answer_queue: int | None = Field(default=None, ge=0, le=1000)
    # prompt: keep only each source's sentences that bear on the question (CPU prompt speed)
    compress_sources: bool = True
    source_sentences: int = Field(default=4, ge=1, le=50)
    prompt_margin_tokens: int = Field(default=64, ge=0, le=4096)
    # answers: models <= 300M parameters show the source extract instead ("model": let them write)
    tiny_model_answers: Literal["extractive", "model"] = "extractive"
    small_model_extract: bool = True  # models <= 1B parameters: the evidence comes first
    # a source less similar than this is "loosely related" (empty: calibrated per embedder)
    abstain_similarity: float | None = Field(default=None, ge=0, le=1)
    # refuse under this answerability: best similarity x share of the question the sources
    # hold (empty: calibrated per embedder; 0: retrieval never refuses)
    abstain_answerability: float | None = Field(default=None, ge=0, le=1)

    # --- models ----------------------------------------------------------------------------
    model: str = ""  # catalog entry id; empty: chosen from the hardware profile
    catalog_path: Path = Path(__file__).resolve().parent.parent / "models" / "catalog.toml"
    model_dirs: str = ""  # colon-separated read-only dirs searched for GGUF files (baked images)

    # --- processes (supervisor) --------------------------------------------------------------
    engine: Literal["auto", "ollama", "llamacpp", "none"] = "auto"
    ollama_bin: str = "ollama"
    port: int | None = Field(default=None, ge=1, le=65535)
    address: str = ""
    engine_ready_timeout_s: float = Field(default=60.0, gt=0)
    grace_period_s: float = Field(default=10.0, gt=0)
    restart_max: int = Field(default=5, ge=0)
    restart_window_s: float = Field(default=300.0, gt=0)
    restart_backoff_s: float = Field(default=1.0, gt=0)  # first restart delay; doubles, capped
    restart_backoff_max_s: float = Field(default=30.0, gt=0)
    streamlit_app: str = ""  # the Streamlit script; empty: streamlit_app.py next to startup.py
    auto_provision: bool = True  # fetch/import/warm up the model at start; false: on demand

    # --- detected from the platform (not OLYMPUS_ prefixed) ----------------------------------
    space_id: str = Field(default="", validation_alias=_env("SPACE_ID"))
    space_host: str = Field(default="", validation_alias=_env("SPACE_HOST"))
    space_accelerator: str = Field(default="", validation_alias=_env("ACCELERATOR"))
    space_cpu_cores: str = Field(default="", validation_alias=_env("CPU_CORES"))
    space_memory: str = Field(default="", validation_alias=_env("MEMORY"))
    cuda_visible_devices: str | None = Field(
        default=None, validation_alias=_env("CUDA_VISIBLE_DEVICES")
    )

    @field_validator("backends")
    @classmethod
    def _known_backends(cls, v: str) -> str:
        from shared_utils.generation.registry import BACKENDS  # the names' one owner

        names = [n.strip() for n in v.split(",") if n.strip()]
        unknown = [n for n in names if n not in BACKENDS]
        if unknown:
            raise ValueError(f"unknown backend(s) {unknown}; valid: {', '.join(BACKENDS)}")
        return ",".join(names)

    @field_validator("ocr_languages")
    @classmethod
    def _tesseract_languages(cls, v: str) -> str:
        from shared_utils.documents.ocr import valid_languages

        if not valid_languages(v.strip()):
            raise ValueError("use Tesseract language codes joined by '+', e.g. eng or eng+deu")
        return v.strip()

    @model_validator(mode="after")
    def _overlap_below_size(self) -> Settings:
        if self.chunk_overlap_tokens >= self.chunk_tokens:
            raise ValueError(
                "OLYMPUS_CHUNK_OVERLAP_TOKENS must be smaller than OLYMPUS_CHUNK_TOKENS"
            )
        return self

    # --- derived paths -----------------------------------------------------------------------
    @property
    def backend_chain(self) -> list[str]:
        """The explicit backend chain, or [] to let the profile choose."""
        return [n for n in self.backends.split(",") if n]

    @property
    def resolved_embedding_precision(self) -> Literal["fp32", "int8"]:
        """``embedding_precision`` with ``auto`` decided: int8 on the CPU, fp32 elsewhere."""
        if self.embedding_precision != "auto":
            return self.embedding_precision
        return "int8" if self.embedding_device.startswith("cpu") else "fp32"

    @property
    def resolved_embedding_batch_size(self) -> int:
        """``embedding_batch_size``, or 8 on the CPU (small batches stay in cache: 1.2x
        faster than 64 here, ``benchmarks.embeddings``) and 64 on a GPU."""
        if self.embedding_batch_size is not None:
            return self.embedding_batch_size
        return 8 if self.embedding_device.startswith("cpu") else 64

    def secret_values(self) -> list[str]:
        """Values of the settings marked secret (``repr=False``), for log redaction."""
        return [
            str(getattr(self, name))
            for name, f in type(self).model_fields.items()
            if not f.repr and getattr(self, name)
        ]

    @property
    def on_space(self) -> bool:
        return bool(self.space_id)

    @property
    def extra_allowed_hosts(self) -> list[str]:
        """OLYMPUS_ALLOWED_HOSTS as lower-case names (ports are not part of a name)."""
        return [h.strip().lower() for h in self.allowed_hosts.split(",") if h.strip()]

    @property
    def model_pulls_allowed(self) -> bool:
        """Pulls from the UI: OLYMPUS_ALLOW_MODEL_PULLS, else on except on a Space."""
        return self.allow_model_pulls if self.allow_model_pulls is not None else not self.on_space

    @property
    def resolved_milvus_uri(self) -> str:
        return self.milvus_uri or str(self.data.milvus)

    @property
    def model_search_dirs(self) -> list[Path]:
        """Read-only folders searched for GGUF files before downloading (OLYMPUS_MODEL_DIRS)."""
        return [Path(p) for p in self.model_dirs.split(":") if p]

    @property
    def status_path(self) -> Path:
        return self.data.status

    @property
    def models_dir(self) -> Path:
        return self.data.models

    @property
    def data(self) -> DataDir:
        """The files and folders of the data dir, by name (``src/data_dir.py``)."""
        return DataDir(self.data_dir)

    @property
    def log_format_resolved(self) -> Literal["json", "console"]:
        """``auto``: a readable console when a person watches (stderr is a terminal), JSON
        lines for a log collector in a container or Space, the console elsewhere."""
        if self.log_format != "auto":
            return self.log_format
        if _stderr_is_terminal():
            return "console"
        return "json" if in_container() or self.space_id else "console"


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr is not None and sys.stderr.isatty()
    except (AttributeError, ValueError):  # a replaced or closed stream
        return False


def in_container() -> bool:
    """True inside Docker/Podman (marker files)."""
    return Path("/.dockerenv").exists() or Path("/run/.containerenv").exists()


def private_files() -> None:
    """Files and folders this process creates are its user's only (0600/0700: umask 077).

    Called by every entry point before anything is written to the data dir; children
    inherit it.
    """
    os.umask(0o077)


def load_settings(**overrides: object) -> Settings:
    """Read and validate settings once. Raises SettingsError naming each bad variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err["loc"]) or "settings"
            var = loc if loc.isupper() else f"OLYMPUS_{loc.upper()}"
            problems.append(f"{var}: {err['msg']}")
        raise SettingsError("Invalid settings: " + "; ".join(problems)) from exc


def child_environ(extra: dict[str, str] | None = None) -> dict[str, str]:
    """A copy of the process environment for child processes, plus ``extra``."""
    env = dict(os.environ)
    env.update(extra or {})
    return env


# What every child may see; secrets (HF_TOKEN, passwords, keys) are never in it.
_CHILD_KEEP = (
    "PATH",
    "HOME",
    "LANG",
    "LANGUAGE",
    "TMPDIR",
    "TZ",
    "USER",
    "LOGNAME",
    "PYTHONPATH",
    "PYTHONHOME",
    "VIRTUAL_ENV",
    "LD_LIBRARY_PATH",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
)
_CHILD_KEEP_PREFIXES = ("LC_", "CUDA_", "NVIDIA_", "HIP_", "ROCR_", "GGML_")
_SECRET_NAME = ("TOKEN", "PASSWORD", "PASSWD", "SECRET", "API_KEY", "APIKEY", "CREDENTIAL")


def secret_named(name: str) -> bool:
    """Whether an environment variable's name says it holds a secret.

    >>> secret_named("HF_TOKEN"), secret_named("OLYMPUS_ADMIN_PASSWORD"), secret_named("PATH")
    (True, True, False)
    """
    return any(word in name.upper() for word in _SECRET_NAME)


def without_secrets(env: dict[str, str], keep: tuple[str, ...] = ()) -> dict[str, str]:
    """``env`` without the variables named like secrets, except those in ``keep``."""
    return {k: v for k, v in env.items() if k in keep or not secret_named(k)}


def minimal_environ(
    extra: dict[str, str] | None = None,
    *,
    keep_prefixes: tuple[str, ...] = (),
    base: dict[str, str] | None = None,
) -> dict[str, str]:
    """The environment for children that need no secrets (PDF worker, llama.cpp engine,
    arangod, ollama): PATH, HOME, locale, temp dir, GPU variables and ``keep_prefixes``
    (e.g. ``OLLAMA_``), never a variable named like a secret; plus ``extra``.

    >>> env = minimal_environ(base={"PATH": "/bin", "HF_TOKEN": "hf_x", "OLLAMA_HOST": "h",
    ...                             "OLYMPUS_PASSWORD": "p", "OLLAMA_API_KEY": "k"},
    ...                       keep_prefixes=("OLLAMA_",))
    >>> sorted(env)
    ['OLLAMA_HOST', 'PATH']
    """
    source = os.environ if base is None else base
    prefixes = _CHILD_KEEP_PREFIXES + keep_prefixes
    env = {
        k: v
        for k, v in source.items()
        if (k in _CHILD_KEEP or k.startswith(prefixes))
        and not any(word in k.upper() for word in _SECRET_NAME)
    }
    env.update(extra or {})
    return env
