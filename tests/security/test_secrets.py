"""Secrets stay out of logs, child processes, doctor output and other users'
reach (a log or a support bundle is read by people who must not sign in)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import structlog

REPO = Path(__file__).resolve().parents[2]
TOKEN = "hf_QwErTyUiOpAsDfGhJkLzXcVbNm1234"
PASSWORD = "correct-horse-battery"


def _failing_pull() -> None:
    token = TOKEN  # noqa: F841 - a local variable rich's traceback would print
    url = f"https://olympus:{PASSWORD}@hub.example/api"
    raise RuntimeError(f"401 Unauthorized for {url}")


@pytest.mark.parametrize("fmt", ["console", "json"])
def test_a_logged_exception_shows_no_token_password_or_locals(fmt, capsys):
    from shared_utils.logging_setup import configure_logging

    configure_logging(fmt, "INFO", secrets=[PASSWORD])
    log = structlog.get_logger("test")
    try:
        _failing_pull()
    except RuntimeError:
        log.exception("pull.failed", auth=f"Bearer {TOKEN}", olympus_password=PASSWORD)
    err = capsys.readouterr().err
    assert "pull.failed" in err and "Traceback" in err and "RuntimeError" in err
    assert TOKEN not in err and PASSWORD not in err
    assert "hub.example" in err, "the rest of the message is kept"
    if fmt == "json":
        record = json.loads(err.strip().splitlines()[-1])
        assert record["olympus_password"] == "***" and record["auth"] == "Bearer ***"


def test_children_get_a_minimal_environment_without_secrets(settings, tmp_path):
    from src.supervisor import children

    class Profile:
        context_tokens, threads, parallel_answers, answer_queue = 2048, 2, 2, 8

    env = {
        "PATH": "/usr/bin",
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "HF_TOKEN": TOKEN,
        "OLYMPUS_PASSWORD": PASSWORD,
        "OLYMPUS_HF_TOKEN": TOKEN,
        "OLYMPUS_ARANGO_PASSWORD": PASSWORD,
        "AWS_SECRET_ACCESS_KEY": "x" * 20,
        "OLYMPUS_DATA_DIR": str(tmp_path),
    }
    ollama = children.ollama_spec(settings, Profile(), env).env
    llama = children.llamacpp_spec(settings, Profile(), env, tmp_path / "m.gguf").env
    for child in (ollama, llama):
        assert child["PATH"] == "/usr/bin" and child["LANG"] == "C.UTF-8"
        assert TOKEN not in child.values() and PASSWORD not in child.values()
        assert not {"HF_TOKEN", "OLYMPUS_PASSWORD", "AWS_SECRET_ACCESS_KEY"} & set(child)
    assert ollama["OLLAMA_HOST"].startswith("127.0.0.1:")
    assert llama["OLYMPUS_DATA_DIR"] == str(tmp_path), "the engine still gets its settings"


def test_doctor_json_shows_no_url_credentials(data_dir, monkeypatch, capsys):
    from src.cli.main import main

    monkeypatch.setenv("OLYMPUS_DATA_DIR", str(data_dir))
    monkeypatch.setenv("OLYMPUS_ENGINE", "none")
    monkeypatch.setenv("OLYMPUS_ARANGO_URL", f"http://olympus:{PASSWORD}@127.0.0.1:9")
    monkeypatch.setenv("OLYMPUS_ARANGO_PASSWORD", "another-secret-1")
    old = os.umask(0o022)
    try:
        main(["doctor", "--json"])
    finally:
        os.umask(old)
    out = capsys.readouterr()
    report = json.loads(out.out)
    text = out.out + out.err
    assert PASSWORD not in text and "another-secret-1" not in text
    assert "127.0.0.1:9" in json.dumps(report["components"]), "the host is still shown"


def test_data_files_are_created_private(tmp_path):
    """A fresh data dir written by the CLI: folders 0700, files 0600 (umask 077)."""
    data = tmp_path / "fresh"
    env = {
        **os.environ,
        "OLYMPUS_DATA_DIR": str(data),
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": str(REPO),
    }
    proc = subprocess.run(
        [sys.executable, "-m", "src", "docs", "list"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    paths = [data, *data.rglob("*")]
    assert len(paths) > 1, "the stores were created"
    for path in paths:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, f"{path} is {oct(mode)}"


def test_streamlit_and_the_front_get_only_the_secrets_they_use(settings, tmp_path):
    from src.access.roles import Policy
    from src.access.session_cookie import password_fingerprint
    from src.settings import load_settings
    from src.supervisor import children
    from src.supervisor.process import ChildSpec

    env = {
        "PATH": "/usr/bin",
        "HF_TOKEN": TOKEN,
        "OLYMPUS_PASSWORD": PASSWORD,
        "OLYMPUS_ADMIN_PASSWORD": "admin-" + PASSWORD,
        "OLYMPUS_ARANGO_PASSWORD": PASSWORD,
        "OLYMPUS_SECRET_KEY": "k" * 40,
        "AWS_SECRET_ACCESS_KEY": "x" * 20,
    }
    api = ChildSpec(
        name="api", argv=["x"], env={"OLYMPUS_SERVICE_TOKEN": "ols_t"}, url="http://127.0.0.1:1"
    )
    secret = b"k" * 40
    for on_space, pulls in ((True, False), (False, True)):
        s = load_settings(
            data_dir=tmp_path,
            password=PASSWORD,
            admin_password="admin-" + PASSWORD,
            SPACE_ID="me/olympus" if on_space else "",
        )
        ui = children.ui_env(env, api, s, secret)
        assert PASSWORD not in "".join(ui.values()), "no password, not even the admin's"
        assert ui["OLYMPUS_SERVICE_TOKEN"] == "ols_t" and ui["OLYMPUS_SECRET_KEY"] == "k" * 40
        assert ("HF_TOKEN" in ui) is pulls, "HF_TOKEN only where the UI may pull models"
        assert "OLYMPUS_ARANGO_PASSWORD" not in ui and "AWS_SECRET_ACCESS_KEY" not in ui
        # the stand-ins still check cookies the front signed with the real passwords
        real = Policy(password=PASSWORD, admin_password="admin-" + PASSWORD)
        standin = Policy(
            password=ui["OLYMPUS_PASSWORD"], admin_password=ui["OLYMPUS_ADMIN_PASSWORD"]
        )
        assert password_fingerprint(real, secret) == password_fingerprint(standin, secret)
        assert real.role_for_password(ui["OLYMPUS_PASSWORD"]) is None, "signs nobody in"
    front = children.front_env(env)
    assert front["OLYMPUS_PASSWORD"] == PASSWORD and "HF_TOKEN" not in front
    assert "OLYMPUS_ARANGO_PASSWORD" not in front and "AWS_SECRET_ACCESS_KEY" not in front


def test_the_fronts_sign_in_link_reaches_the_console_whole_and_other_tokens_stay_masked(capsys):
    """Through the supervisor's forwarding of a child's output: the one-time link a start
    without a password prints is usable (its token whole), a token in any other line is not."""
    import io

    from shared_utils.logging_setup import configure_logging
    from src.front.door import DoorToken
    from src.supervisor.process import _forward_output

    configure_logging("json", "INFO")
    door, printed = DoorToken(), io.StringIO()
    door.announce("0.0.0.0", 8501, out=printed)
    child_output = printed.getvalue() + f"leaked http://x/?token={TOKEN}\n"
    console = io.StringIO()
    _forward_output("front", 1, io.BytesIO(child_output.encode()), console=console)
    assert door.link("localhost", 8501) in console.getvalue()
    assert all(
        json.loads(line)["event"] == "console.notice" for line in console.getvalue().splitlines()
    ), "JSON logs stay JSON lines"
    err = capsys.readouterr().err
    assert TOKEN not in err + console.getvalue() and "leaked" in err
    assert door.token not in err, "the token is only on the console, not in the log records"
