"""Runs a built Olympus image and checks what a user of the container would notice.

Called by scripts/image-check.sh (which provides the engine and the image); standard library
only. The first container runs as README's laptop line does: a bridge network with the port
published on the host's loopback and OLYMPUS_API_PUBLIC=true, so the API is called from the
host through the mapped port with a key (requests through ``-p`` come from Docker's bridge,
not from the container's loopback). The network has no NAT: nothing beyond the host is
reachable. The restarted container runs with ``--network none``: it must work without any
network. Exits 1 with the failed checks' reasons.

Times are measurements, printed with the load average: the UI must answer within
READY_LIMIT_S (a liveness bound that passes at load 10+ on 2 cores, where the UI takes ~20 s
instead of ~4 s), not within a speed target. They are taken from the container's own clock
(its start, a probe loop inside it, the HEALTHCHECK's log), so the cost of each
``docker exec`` from a loaded host is not counted.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime
from pathlib import Path

READY_LIMIT_S = 120.0  # the UI answers within this many seconds of the container's start
PORT = 8501  # not the image's 7860: the HEALTHCHECK must follow OLYMPUS_PORT
GRACE_S = 30  # docker stop's timeout, as compose's stop_grace_period
QUESTION = "What is a clause in conjunctive normal form?"
# The second container (the restart on the same volume) is started with these settings, so its
# service lets the model itself answer (not tiny-model mode's extract), briefly and
# deterministically, from two sources: the offline fallback (SmolLM2-135M) reads and writes
# slowly on a loaded 2-core machine (2 tokens/s at a load average of 10). They are the
# server's settings: `ask` goes through the running service, which owns the library.
MODEL_ENV = (
    "-e",
    "OLYMPUS_TINY_MODEL_ANSWERS=model",
    "-e",
    "OLYMPUS_MAX_ANSWER_TOKENS=48",
    "-e",
    "OLYMPUS_TEMPERATURE=0",
    "-e",
    "OLYMPUS_TOP_K=2",
    # loading the model took over the default 60 s at load 25 on 2 cores: slow is
    # measured here (model_ready_s), only an engine that never answers fails
    "-e",
    "OLYMPUS_ENGINE_READY_TIMEOUT_S=300",
)
# README's laptop line, with the image check's port: `-p 127.0.0.1:H:P -e OLYMPUS_API_PUBLIC=true`
LAPTOP_ENV = ("-e", "OLYMPUS_API_PUBLIC=true", "-e", "OLYMPUS_ENGINE_READY_TIMEOUT_S=300")


class CheckFailed(Exception):
    pass


def docker(*args: str, timeout: float = 300, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise CheckFailed(
            f"docker {' '.join(args[:3])} exited {proc.returncode}: "
            f"{(proc.stderr or proc.stdout).strip()[-1500:]}"
        )
    return proc


def say(message: str) -> None:
    print(f"[image-check] {message}", file=sys.stderr, flush=True)


def run(
    image: str,
    name: str,
    volume: str,
    env: tuple[str, ...] = (),
    network: str = "none",
    host_port: int | None = None,
) -> tuple[float, float]:
    """Start the container; return the seconds from its start until the UI answers its health
    URL (a probe loop inside the container) and until Docker reports it healthy (the image's
    own HEALTHCHECK, at its own interval: what `docker ps` shows a user)."""
    docker("rm", "-f", name, check=False)
    publish = ("-p", f"127.0.0.1:{host_port}:{PORT}") if host_port else ()
    docker(
        "run",
        "-d",
        "--name",
        name,
        "--network",
        network,
        *publish,
        "-v",
        f"{volume}:/data",
        "-e",
        f"OLYMPUS_PORT={PORT}",
        "-e",
        "HF_HUB_OFFLINE=1",
        *env,
        image,
    )
    started = _epoch(
        json.loads(docker("inspect", "-f", "{{json .State}}", name).stdout)["StartedAt"]
    )
    url = f"http://127.0.0.1:{PORT}/_stcore/health"
    loop = f"until curl -fs -o /dev/null --max-time 2 {url}; do sleep 0.1; done; date +%s.%N"
    probe = docker("exec", name, "sh", "-c", loop, timeout=READY_LIMIT_S, check=False)
    if probe.returncode != 0:
        raise CheckFailed(f"the container stopped answering or exited:\n{logs(name)[-3000:]}")
    ready = float(probe.stdout.strip()) - started
    deadline = time.monotonic() + READY_LIMIT_S
    while time.monotonic() < deadline:
        state = json.loads(docker("inspect", "-f", "{{json .State}}", name).stdout)
        health = state.get("Health") or {}
        if health.get("Status") == "healthy":
            passed = [_epoch(p["End"]) for p in health.get("Log", []) if p.get("ExitCode") == 0]
            return ready, (min(passed) if passed else time.time()) - started
        if not state.get("Running"):
            raise CheckFailed(
                f"the container exited {state.get('ExitCode')}:\n{logs(name)[-3000:]}"
            )
        time.sleep(0.25)
    raise CheckFailed(
        f"the UI answers but Docker did not report the container healthy "
        f"{READY_LIMIT_S:.0f} s later: {health.get('Log', [])[-1:]}"
    )


def _epoch(stamp: str) -> float:
    """Docker's RFC 3339 time (nanoseconds, Z or an offset) as seconds since the epoch."""
    head, _, rest = stamp.partition(".")
    digits = rest[: len(rest) - len(rest.lstrip("0123456789"))]
    zone = rest[len(digits) :] if rest else head[19:]
    zone = "+00:00" if zone in ("Z", "") else zone
    return datetime.fromisoformat(head[:19] + zone).timestamp() + float(f"0.{digits or 0}")


def load() -> str:
    return f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"


def logs(name: str) -> str:
    proc = docker("logs", name, check=False)
    return proc.stdout + proc.stderr


def exec_json(
    name: str, *args: str, env: tuple[str, ...] = (), timeout: float = 300
) -> tuple[int, object]:
    proc = docker("exec", *env, name, "python", "-m", "src", *args, timeout=timeout, check=False)
    try:
        return proc.returncode, json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        raise CheckFailed(
            f"`{' '.join(args)}` printed no JSON (exit {proc.returncode}): "
            f"{proc.stdout[-800:]}{proc.stderr[-1500:]}"
        ) from exc


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
        if phase == "ready" and all(
            status.get(child, {}).get("state") == "ready" for child in ("engine", "api")
        ):
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
    ingest = docker("exec", name, "python", "-m", "src", "ingest", inside, timeout=600, check=False)
    if ingest.returncode != 0:
        raise CheckFailed(
            f"ingest exited {ingest.returncode}: {ingest.stdout[-800:]}{ingest.stderr[-1500:]}"
        )
    say(f"ingested {pdf} in {time.monotonic() - start:.1f} s")


def ask(name: str, env: tuple[str, ...]) -> tuple[dict, str]:
    start = time.monotonic()
    code, done = exec_json(name, "ask", "--json", QUESTION, env=env, timeout=600)
    if code != 0 or not isinstance(done, dict) or done.get("error"):
        raise CheckFailed(f"ask --json exited {code}: {json.dumps(done)[:1500]}")
    summary = (
        f"answered by {done.get('backend_name')} (model {done.get('model')!r}) in "
        f"{time.monotonic() - start:.1f} s with {len(done.get('citations') or [])} "
        f"citation(s): {done.get('answer', '')[:140]!r}"
    )
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
        raise CheckFailed(
            f"expected backend {backend} with its model; {summary}; skipped: {done.get('skipped')}"
        )
    say(f"model answering: {summary}")


def stop(name: str) -> float:
    start = time.monotonic()
    docker("stop", "-t", str(GRACE_S), name, timeout=GRACE_S + 30)
    took = time.monotonic() - start
    code = docker("inspect", "-f", "{{.State.ExitCode}}", name).stdout.strip()
    if code != "143":
        raise CheckFailed(
            f"docker stop: exit code {code}, not 143 (SIGTERM handled):\n{logs(name)[-2000:]}"
        )
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
        raise CheckFailed(
            f"after a restart on the same volume the documents are {names} (exit {code})"
        )
    say(f"a new container on the same volume lists {names}")
    return times


def check_api_from_host(name: str, host_port: int) -> None:
    """README's laptop line gives the host a working API: a key made in the container, then
    `/v1/models` from the host through the mapped port (the request comes from the bridge)."""
    made = docker(
        "exec",
        name,
        "python",
        "-m",
        "src",
        "keys",
        "create",
        "image-check",
        timeout=120,
        check=False,
    )
    key = made.stdout.strip().splitlines()[-1] if made.stdout.strip() else ""
    if made.returncode != 0 or not key.startswith("olk_"):
        raise CheckFailed(f"keys create exited {made.returncode}: {made.stderr[-800:]}")
    url = f"http://127.0.0.1:{host_port}/v1/models"
    status, body = _http(url, {})
    if status != 401:
        raise CheckFailed(
            f"the API from the host without a key answered {status}, not 401: {body[:300]}"
        )
    status, body = _http(url, {"Authorization": f"Bearer {key}"})
    models = json.loads(body).get("data") if status == 200 else None
    if not models:
        raise CheckFailed(f"the API from the host with a key answered {status}: {body[:300]}")
    say(
        f"API from the host through -p 127.0.0.1:{host_port}:{PORT}: 401 without a key, "
        f"200 with one ({len(models)} models: {[m.get('id') for m in models][:4]})"
    )


def _http(url: str, headers: dict[str, str]) -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Host": "localhost", **headers})
    try:
        with urllib.request.urlopen(request, timeout=60) as reply:  # local URL
            return reply.status, reply.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


def first_start(args: argparse.Namespace) -> tuple[dict, list[str]]:
    """Start on an empty volume as README's laptop line does and run every check; the
    figures and the failed checks."""
    started = time.monotonic()
    ready, healthy = run(
        args.image,
        args.name,
        args.volume,
        env=LAPTOP_ENV,
        network=args.network,
        host_port=args.host_port,
    )
    say(
        f"{args.image}: UI answers {ready:.1f} s after the container started, Docker reports it "
        f"healthy after {healthy:.1f} s (HEALTHCHECK on OLYMPUS_PORT={PORT}; {load()})"
    )
    model_ready = wait_model_ready(args.name, started)
    say(f"model provisioned and engine ready {model_ready:.1f} s after docker run ({load()})")
    failures = []
    steps = (
        lambda: check_user_and_logs(args.name),
        lambda: check_doctor(args.name),
        lambda: check_api_from_host(args.name, args.host_port),
        lambda: check_ingest(args.name, args.pdf),
        lambda: check_cited_answer(args.name),
    )
    for step in steps:
        try:  # the container keeps running: the next checks still tell something
            step()
        except CheckFailed as exc:
            say(f"check failed: {exc}")
            failures.append(str(exc).split(";")[0][:120])
    took = stop(args.name)
    say(f"docker stop: exit 143 after {took:.1f} s")
    return {
        "ready_s": ready,
        "healthy_s": healthy,
        "model_ready_s": model_ready,
        "stop_s": took,
    }, failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    for flag in ("--image", "--name", "--volume", "--backend", "--pdf", "--network"):
        parser.add_argument(flag, required=True)
    parser.add_argument(
        "--host-port",
        type=int,
        required=True,
        help="the host port (on 127.0.0.1) the first container's UI is mapped to",
    )
    args = parser.parse_args()
    try:
        figures, failures = first_start(args)
        ready, healthy = check_documents_kept(
            args.name, args.image, args.volume, Path(args.pdf).name
        )
        try:
            wait_model_ready(args.name, time.monotonic())
            check_model_answers(args.name, args.backend)
        except CheckFailed as exc:
            say(f"check failed: {exc}")
            failures.append(str(exc).split(";")[0][:120])
        figures.update(
            restart_ready_s=ready, restart_healthy_s=healthy, restart_stop_s=stop(args.name)
        )
        print(
            json.dumps(
                {
                    "image": args.image,
                    "backend": args.backend,
                    "load": os.getloadavg()[0],
                    **{k: round(v, 1) for k, v in figures.items()},
                }
            )
        )
        if failures:
            raise CheckFailed(f"{len(failures)} check(s) failed: {failures}")
    except (CheckFailed, subprocess.TimeoutExpired) as exc:
        say(f"check failed: {exc}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
