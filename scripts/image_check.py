"""Runs a built Olympus image and checks what a user of the container would notice.

Called by scripts/image-check.sh (which provides the engine and the image); standard library
only. The container runs with ``--network none``: it must work without the internet, and
everything is checked from inside it (``docker exec``, the image's own HEALTHCHECK), so no
host port is used. Exits 1 with the failed check's reason; prints the measured times.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HEALTH_S = 8.0  # a healthy container within this many seconds of `docker run`
PORT = 8501  # not the image's 7860: the HEALTHCHECK must follow OLYMPUS_PORT
GRACE_S = 30  # docker stop's timeout, as compose's stop_grace_period
QUESTION = "What is a clause in conjunctive normal form?"
# The second container (the restart on the same volume) is started with these settings, so its
# service lets the model itself answer (not tiny-model mode's extract), briefly and
# deterministically, from two sources: the offline fallback (SmolLM2-135M) reads and writes
# slowly on a loaded 2-core machine (2 tokens/s at a load average of 10). They are the
# server's settings: `ask` goes through the running service, which owns the library.
MODEL_ENV = ("-e", "OLYMPUS_TINY_MODEL_ANSWERS=model", "-e", "OLYMPUS_MAX_ANSWER_TOKENS=48",
             "-e", "OLYMPUS_TEMPERATURE=0", "-e", "OLYMPUS_TOP_K=2")


class CheckFailed(Exception):
    pass


def docker(*args: str, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise CheckFailed(f"docker {' '.join(args[:3])} exited {proc.returncode}: "
                          f"{(proc.stderr or proc.stdout).strip()[-1500:]}")
    return proc


def say(message: str) -> None:
    print(f"[image-check] {message}", file=sys.stderr, flush=True)


def run(image: str, name: str, volume: str, env: tuple[str, ...] = ()) -> tuple[float, float]:
    """Start the container; return the seconds until the UI answers its health URL and until
    Docker reports the container healthy (the image's own HEALTHCHECK, probed every 250 ms)."""
    docker("rm", "-f", name, check=False)
    start = time.monotonic()
    docker("run", "-d", "--name", name, "--network", "none", "-v", f"{volume}:/data",
           "-e", f"OLYMPUS_PORT={PORT}", "-e", "HF_HUB_OFFLINE=1",
           "--health-interval", "250ms", "--health-start-period", "60s", *env, image)
    ready = healthy = 0.0
    url = f"http://127.0.0.1:{PORT}/_stcore/health"
    while time.monotonic() - start < 60:
        if not ready and docker("exec", name, "curl", "-fs", "-o", "/dev/null", url,
                                check=False).returncode == 0:
            ready = time.monotonic() - start
        state = json.loads(docker("inspect", "-f", "{{json .State}}", name).stdout)
        if state.get("Health", {}).get("Status") == "healthy":
            healthy = time.monotonic() - start
            return ready or healthy, healthy
        if not state.get("Running"):
            raise CheckFailed(f"the container exited {state.get('ExitCode')}:\n{logs(name)[-3000:]}")
        time.sleep(0.05)
    raise CheckFailed(f"not healthy after 60 s:\n{logs(name)[-3000:]}")


def logs(name: str) -> str:
    proc = docker("logs", name, check=False)
    return proc.stdout + proc.stderr


def exec_json(name: str, *args: str, env: tuple[str, ...] = (),
              timeout: float = 300) -> tuple[int, object]:
    proc = docker("exec", *env, name, "python", "-m", "src", *args, timeout=timeout, check=False)
    try:
        return proc.returncode, json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        raise CheckFailed(f"`{' '.join(args)}` printed no JSON (exit {proc.returncode}): "
                          f"{proc.stdout[-800:]}{proc.stderr[-1500:]}") from exc


def check_user_and_logs(name: str) -> None:
    status = docker("exec", name, "cat", "/proc/1/status").stdout
    uid = next(line.split()[1] for line in status.splitlines() if line.startswith("Uid:"))
    if uid != "1000":
        raise CheckFailed(f"the supervisor runs as uid {uid}, not 1000")
    lines = [line for line in logs(name).splitlines() if line.strip()]
    bad = [line for line in lines if not _is_json_object(line)]
    if not lines or bad:
        raise CheckFailed(f"logs are not JSON lines ({len(bad)} of {len(lines)}): {bad[:3]}")
    say(f"runs as uid 1000; {len(lines)} log lines, all JSON")


def _is_json_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except json.JSONDecodeError:
        return False


def wait_model_ready(name: str, started: float) -> float:
    """Seconds from `docker run` until provisioning is done and the engine and the service
    (which owns the library) are ready."""
    while time.monotonic() - started < 180:
        proc = docker("exec", name, "cat", "/data/status.json", check=False)
        try:
            status = json.loads(proc.stdout) if proc.returncode == 0 else {}
        except json.JSONDecodeError:
            status = {}
        phase = status.get("provisioning", {}).get("phase")
        if phase == "failed":
            raise CheckFailed(f"provisioning failed: {status['provisioning'].get('error')}")
        if phase == "ready" and all(status.get(child, {}).get("state") == "ready"
                                    for child in ("engine", "api")):
            return time.monotonic() - started
        time.sleep(0.5)
    raise CheckFailed(f"the model was not ready 180 s after the start: {status}")


def check_doctor(name: str) -> None:
    code, report = exec_json(name, "doctor", "--json", timeout=120)
    if code != 0 or not isinstance(report, dict):
        parts = report.get("components", {}) if isinstance(report, dict) else {}
        failing = {k: v.get("detail") for k, v in parts.items() if not v.get("ok")}
        raise CheckFailed(f"doctor --json exited {code}; components not ok: {failing}")
    say(f"doctor --json: exit 0, {len(report)} sections")


def check_ingest(name: str, pdf: str) -> None:
    inside = f"/tmp/{Path(pdf).name}"
    docker("cp", pdf, f"{name}:{inside}")
    start = time.monotonic()
    ingest = docker("exec", name, "python", "-m", "src", "ingest", inside,
                    timeout=600, check=False)
    if ingest.returncode != 0:
        raise CheckFailed(f"ingest exited {ingest.returncode}: {ingest.stdout[-800:]}{ingest.stderr[-1500:]}")
    say(f"ingested {pdf} in {time.monotonic() - start:.1f} s")


def ask(name: str, env: tuple[str, ...]) -> tuple[dict, str]:
    start = time.monotonic()
    code, done = exec_json(name, "ask", "--json", QUESTION, env=env, timeout=600)
    if code != 0 or not isinstance(done, dict) or done.get("error"):
        raise CheckFailed(f"ask --json exited {code}: {json.dumps(done)[:1500]}")
    summary = (f"answered by {done.get('backend_name')} (model {done.get('model')!r}) in "
               f"{time.monotonic() - start:.1f} s with {len(done.get('citations') or [])} "
               f"citation(s): {done.get('answer', '')[:140]!r}")
    return done, summary


def check_cited_answer(name: str) -> None:
    """What a user gets with the default settings: an answer that cites the manual."""
    done, summary = ask(name, env=())
    if not done.get("citations"):
        raise CheckFailed(f"the answer cites nothing; {summary}")
    say(f"default settings: {summary}")


def check_model_answers(name: str, backend: str) -> None:
    """The engine in the image really generates: the model answers itself (not tiny-model
    mode's extract), and the answer says which backend and model that was."""
    done, summary = ask(name, env=())
    if done.get("backend_name") != backend or not done.get("model") or not done.get("answer"):
        raise CheckFailed(f"expected backend {backend} with its model; {summary}; "
                          f"skipped: {done.get('skipped')}")
    say(f"model answering: {summary}")


def stop(name: str) -> float:
    start = time.monotonic()
    docker("stop", "-t", str(GRACE_S), name, timeout=GRACE_S + 30)
    took = time.monotonic() - start
    code = docker("inspect", "-f", "{{.State.ExitCode}}", name).stdout.strip()
    if code != "143":
        raise CheckFailed(f"docker stop: exit code {code}, not 143 (SIGTERM handled):\n{logs(name)[-2000:]}")
    if took >= GRACE_S:
        raise CheckFailed(f"docker stop took {took:.1f} s: the grace period ran out (SIGKILL)")
    return took


def check_documents_kept(name: str, image: str, volume: str, pdf_name: str) -> tuple[float, float]:
    """A new container on the same volume (started with MODEL_ENV) still has the document."""
    docker("rm", "-f", name)
    times = run(image, name, volume, env=MODEL_ENV)
    code, docs = exec_json(name, "docs", "list", "--json", timeout=120)
    names = [d.get("name") for d in docs] if isinstance(docs, list) else []
    if code != 0 or pdf_name not in names:
        raise CheckFailed(f"after a restart on the same volume the documents are {names} (exit {code})")
    say(f"a new container on the same volume lists {names}")
    return times


def first_start(args: argparse.Namespace) -> tuple[dict, list[str]]:
    """Start on an empty volume and run every check; the figures and the failed checks."""
    started = time.monotonic()
    ready, healthy = run(args.image, args.name, args.volume)
    say(f"{args.image}: UI answers {ready:.1f} s after docker run, Docker reports it healthy "
        f"after {healthy:.1f} s (HEALTHCHECK on OLYMPUS_PORT={PORT})")
    model_ready = wait_model_ready(args.name, started)
    say(f"model provisioned and engine ready {model_ready:.1f} s after docker run")
    failures = []
    if ready > HEALTH_S:
        say(f"check failed: the UI answered only after {ready:.1f} s (at most {HEALTH_S} s; "
            f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
        failures.append("health")
    steps = (lambda: check_user_and_logs(args.name), lambda: check_doctor(args.name),
             lambda: check_ingest(args.name, args.pdf), lambda: check_cited_answer(args.name))
    for step in steps:
        try:  # the container keeps running: the next checks still tell something
            step()
        except CheckFailed as exc:
            say(f"check failed: {exc}")
            failures.append(str(exc).split(";")[0][:120])
    took = stop(args.name)
    say(f"docker stop: exit 143 after {took:.1f} s")
    return {"ready_s": ready, "healthy_s": healthy, "model_ready_s": model_ready, "stop_s": took}, failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    for flag in ("--image", "--name", "--volume", "--backend", "--pdf"):
        parser.add_argument(flag, required=True)
    args = parser.parse_args()
    try:
        figures, failures = first_start(args)
        ready, healthy = check_documents_kept(args.name, args.image, args.volume, Path(args.pdf).name)
        try:
            wait_model_ready(args.name, time.monotonic())
            check_model_answers(args.name, args.backend)
        except CheckFailed as exc:
            say(f"check failed: {exc}")
            failures.append(str(exc).split(";")[0][:120])
        figures.update(restart_ready_s=ready, restart_healthy_s=healthy, restart_stop_s=stop(args.name))
        print(json.dumps({"image": args.image, "backend": args.backend,
                          **{k: round(v, 1) for k, v in figures.items()}}))
        if failures:
            raise CheckFailed(f"{len(failures)} check(s) failed: {failures}")
    except (CheckFailed, subprocess.TimeoutExpired) as exc:
        say(f"check failed: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
