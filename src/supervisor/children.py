"""Command lines and environments of the supervised children: engine, API, Streamlit, front.

Pure functions from settings + profile to a ``ChildSpec``; nothing is started here.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from src.access.session_cookie import password_standin
from src.data_dir import DataDir
from src.settings import Settings, minimal_environ, without_secrets
from src.supervisor.process import ChildSpec

if TYPE_CHECKING:
    from src.models.profile import Profile

CODE_DIR = Path(__file__).resolve().parents[2]
LOOPBACK = {"127.0.0.1", "localhost", "::1", "0.0.0.0", "::", ""}  # local or all interfaces


def child_env(settings: Settings, base: Mapping[str, str]) -> dict[str, str]:
    """Environment for every child: ``base`` with caches moved into the data dir when HOME
    (or an explicitly set cache dir) is not writable, as on HF Spaces (uid 1000)."""
    env = dict(base)
    data = settings.data_dir.resolve()
    if not _writable(env.get("HOME", "")):
        env["HOME"] = str(DataDir(data).home)
        Path(env["HOME"]).mkdir(parents=True, exist_ok=True)
    cache = DataDir(data).cache
    for var, path in (("XDG_CACHE_HOME", cache), ("HF_HOME", cache / "huggingface")):
        if var in env and not _writable(env[var]):
            env[var] = str(path)
    # Children run in the supervisor's working directory (so a relative data dir and a .env
    # there mean the same to them) and find the code through PYTHONPATH.
    env["OLYMPUS_DATA_DIR"] = str(data)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(CODE_DIR), env.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"  # forward log lines as they happen
    if not os.access(CODE_DIR, os.W_OK):
        env.setdefault("PYTHONDONTWRITEBYTECODE", "1")  # no failed .pyc writes in the image
    return env


def _writable(path: str) -> bool:
    """True when ``path`` (or, if missing, its nearest existing parent) is writable."""
    if not path:
        return False
    p = Path(path)
    while not p.exists():
        if p.parent == p:
            return False
        p = p.parent
    return os.access(p, os.W_OK)


# --- engine ----------------------------------------------------------------------------------
def ollama_address(settings: Settings) -> tuple[str, int, bool]:
    """(host, port, local) of OLYMPUS_OLLAMA_HOST; ``local`` means we run ``ollama serve``.

    >>> from src.settings import Settings
    >>> ollama_address(Settings(ollama_host="http://127.0.0.1:11434"))
    ('127.0.0.1', 11434, True)
    >>> ollama_address(Settings(ollama_host="gpu-box:8000"))
    ('gpu-box', 8000, False)
    """
    raw = (
        settings.ollama_host if "://" in settings.ollama_host else f"http://{settings.ollama_host}"
    )
    parts = urlsplit(raw)
    host = parts.hostname or "127.0.0.1"
    return host, parts.port or 11434, host in LOOPBACK


def ollama_spec(settings: Settings, profile: Profile, env: Mapping[str, str]) -> ChildSpec:
    """``ollama serve`` on 127.0.0.1, models under the data dir, context and parallel answers
    from the profile (Ollama gives each of its ``OLLAMA_NUM_PARALLEL`` slots the whole
    ``OLLAMA_CONTEXT_LENGTH``; Olympus' own answer queue stands in front, so Ollama's queue
    only needs room for what gets past it)."""
    _, port, _ = ollama_address(settings)
    url = f"http://127.0.0.1:{port}"
    child = minimal_environ(base=dict(env), keep_prefixes=("OLLAMA_", "XDG_"))  # no secrets
    child.update(
        OLLAMA_HOST=f"127.0.0.1:{port}",
        OLLAMA_MODELS=str(DataDir(settings.data_dir.resolve()).ollama),
        OLLAMA_KEEP_ALIVE=settings.keep_alive,
        OLLAMA_CONTEXT_LENGTH=str(profile.context_tokens),
        OLLAMA_NUM_PARALLEL=str(profile.parallel_answers),
        OLLAMA_MAX_QUEUE=str(max(512, profile.parallel_answers + profile.answer_queue)),
    )
    return ChildSpec(
        name="engine",
        argv=[settings.ollama_bin, "serve"],
        env=child,
        cwd=settings.data_dir,
        ready_url=f"{url}/api/version",
        url=url,
        info={"engine": "ollama"},
    )


def llamacpp_spec(
    settings: Settings, profile: Profile, env: Mapping[str, str], model_path: Path
) -> ChildSpec:
    """``python -m src engine serve``: llama.cpp's OpenAI-compatible server in that child."""
    port = settings.llamacpp_port
    url = f"http://127.0.0.1:{port}"
    argv = [
        sys.executable,
        "-m",
        "src",
        "engine",
        "serve",
        "--model",
        str(model_path),
        "--port",
        str(port),
        "--ctx",
        str(profile.context_tokens),
        "--threads",
        str(profile.threads),
        "--parallel",
        str(profile.parallel_answers),
    ]
    return ChildSpec(
        name="engine",
        argv=argv,
        ready_url=f"{url}/health",
        # settings and caches, but no HF_TOKEN or passwords: the engine serves a local file
        env=minimal_environ(
            base=dict(env), keep_prefixes=("OLYMPUS_", "PYTHON", "XDG_", "HF_HOME")
        ),
        url=url,
        info={"engine": "llamacpp", "model": str(model_path)},
    )


# --- service API ------------------------------------------------------------------------------
def api_spec(env: Mapping[str, str], port: int, token: str) -> ChildSpec:
    """``python -m src.api``: the process that owns the stores, on 127.0.0.1:``port``; it
    accepts ``token`` (the service token of this start) besides the admin-made API keys."""
    url = f"http://127.0.0.1:{port}"
    return ChildSpec(
        name="api",
        argv=[sys.executable, "-m", "src.api", "--port", str(port)],
        env={**env, "OLYMPUS_SERVICE_TOKEN": token},
        ready_url=f"{url}/api/health",
        url=url,
    )


# Secrets each child uses (every other variable named like a secret is left out of its env)
HF_TOKENS = ("HF_TOKEN", "OLYMPUS_HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")
UI_SECRETS = ("OLYMPUS_SECRET_KEY", "OLYMPUS_SERVICE_TOKEN")
FRONT_SECRETS = ("OLYMPUS_SECRET_KEY", "OLYMPUS_PASSWORD", "OLYMPUS_ADMIN_PASSWORD")


def ui_env(
    env: Mapping[str, str], api: ChildSpec, settings: Settings, secret: bytes
) -> dict[str, str]:
    """Streamlit's environment, the most exposed process: it reaches the stores through the
    service API (the service token), checks cookies (the cookie key and stand-ins of the
    passwords, never the passwords) and gets HF_TOKEN only when it may pull models."""
    keep = UI_SECRETS + (HF_TOKENS if settings.model_pulls_allowed else ())
    child = without_secrets(dict(env), keep)
    child.update(
        OLYMPUS_SERVICE_URL=api.url, OLYMPUS_SERVICE_TOKEN=api.env["OLYMPUS_SERVICE_TOKEN"]
    )
    for name, value in (
        ("OLYMPUS_PASSWORD", settings.password),
        ("OLYMPUS_ADMIN_PASSWORD", settings.admin_password),
    ):
        if value:
            child[name] = password_standin(value, secret)
    return child


def front_env(env: Mapping[str, str]) -> dict[str, str]:
    """The front's environment: the passwords and the cookie key, no other secret."""
    return without_secrets(dict(env), FRONT_SECRETS)


# --- streamlit -------------------------------------------------------------------------------
def app_path(settings: Settings) -> Path:
    """The Streamlit script: OLYMPUS_STREAMLIT_APP, else streamlit_app.py in the code dir."""
    return Path(settings.streamlit_app) if settings.streamlit_app else CODE_DIR / "streamlit_app.py"


def _public(settings: Settings, profile: Profile) -> tuple[str, int, str, str, str]:
    """(bind address, public port, host for local probes, host users reach, URL users
    reach) of the front."""
    address, port = profile.address, int(profile.port)
    probe_host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(address, address)
    probe_host = f"[{probe_host}]" if ":" in probe_host else probe_host
    shown = "localhost" if address in LOOPBACK else probe_host
    url = f"https://{settings.space_host}" if settings.space_host else f"http://{shown}:{port}"
    return address or "127.0.0.1", port, probe_host, settings.space_host or shown, url


def public_port(settings: Settings, profile: Profile) -> tuple[str, int]:
    """(host to probe, port) of the front's public port (OLYMPUS_PORT)."""
    _, port, probe_host, _, _ = _public(settings, profile)
    return probe_host.strip("[]"), port


def streamlit_spec(
    settings: Settings, profile: Profile, env: Mapping[str, str], internal_port: int
) -> ChildSpec:
    """``streamlit run`` headless on 127.0.0.1:``internal_port`` (only the front, on the
    public port, reaches it), XSRF on, upload limit from settings, no file watcher."""
    _, port, _, shown, url = _public(settings, profile)
    argv = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(app_path(settings)),
        "--server.address",
        "127.0.0.1",
        "--server.port",
        str(internal_port),
        "--server.headless",
        "true",
        "--server.enableXsrfProtection",
        "true",
        "--server.maxUploadSize",
        str(settings.max_upload_mb),
        "--server.fileWatcherType",
        "none",
        "--server.runOnSave",
        "false",
        "--browser.gatherUsageStats",
        "false",
        # Naming the address users reach stops Streamlit from asking a web service for this
        # machine's external IP at start (a network call, and a delay when offline).
        "--browser.serverAddress",
        shown,
        "--browser.serverPort",
        str(443 if settings.space_host else port),
    ]
    return ChildSpec(
        name="streamlit",
        argv=argv,
        env=dict(env),
        ready_url=f"http://127.0.0.1:{internal_port}/_stcore/health",
        url=url,
    )


def front_spec(
    settings: Settings,
    profile: Profile,
    env: Mapping[str, str],
    internal_port: int,
    api_port: int | None = None,
) -> ChildSpec:
    """``python -m src.front``: the public port (allowed hosts, sign-in) before Streamlit,
    forwarding ``/v1`` and ``/api`` to the service API on ``api_port``."""
    address, port, probe_host, _, url = _public(settings, profile)
    argv = [
        sys.executable,
        "-m",
        "src.front",
        "--address",
        address,
        "--port",
        str(port),
        "--upstream-port",
        str(internal_port),
    ]
    if api_port is not None:
        argv += ["--api-port", str(api_port)]
    return ChildSpec(
        name="front",
        argv=argv,
        env=front_env(env),
        ready_url=f"http://{probe_host}:{port}/_olympus/health",
        url=url,
    )
