"""Model download: throughput, cost of an interruption, and profile detection time.

Serves a random file from the local Hub double (``tests/doubles/hub_server.py``: HEAD on
``/resolve/`` -> 302 to a CDN port, Range support) and measures:

- ``olympus``: ``shared_utils.hub_download.download_gguf`` (sha256-verified, resumable).
- ``peer``: ``huggingface_hub.hf_hub_download(local_dir=...)`` on the same file, the baseline.
- ``interrupted``: the connection drops at 50% and the process "restarts" (a second call):
  bytes fetched in total by Olympus vs hf_hub_download (which deletes its partial file).
- ``detect``: ``src.models.profile.detect`` wall time (runs nvidia-smi when present, reads cgroups).

The double runs in this process, so figures measure the client side on loopback; on the real
Hub the network dominates.

Run: ``.venv/bin/python -m benchmarks.download [--mb 256] [--runs 3]``
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from benchmarks.common import (
    format_table,
    machine_info,
    print_machine,
    quiet_logging,
    temp_dir,
    write_json,
)

REPO = "bench/Bench-GGUF"
FILE = "bench-q4_k_m.gguf"


def _olympus(url: str, dest: Path) -> float:
    from shared_utils.hub_download import download_gguf

    t0 = time.perf_counter()
    download_gguf(REPO, [FILE], dest, endpoint=url, sleep=lambda s: None)
    return time.perf_counter() - t0


def _peer(url: str, dest: Path) -> float:
    from huggingface_hub import hf_hub_download

    t0 = time.perf_counter()
    hf_hub_download(REPO, FILE, local_dir=dest, endpoint=url, token=False)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=256)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    quiet_logging()
    os.environ.pop("HF_HUB_OFFLINE", None)
    import huggingface_hub.constants as hf_constants

    hf_constants.HF_HUB_OFFLINE = False
    hf_constants.HF_HUB_DISABLE_PROGRESS_BARS = True
    from tests.doubles.hub_server import HubServer

    info = machine_info()
    print_machine(info)
    size = args.mb * 1024 * 1024
    results: dict[str, object] = {"machine": info, "size_mb": args.mb}
    with HubServer() as hub:
        hub.add_file(REPO, FILE, os.urandom(size))
        times: dict[str, list[float]] = {"olympus": [], "peer": []}
        for _ in range(args.runs):
            for name, fn in (("olympus", _olympus), ("peer", _peer)):
                with temp_dir(f"bench-dl-{name}-") as d:
                    times[name].append(fn(hub.url, d))
        rows = []
        for name, ts in times.items():
            med = statistics.median(ts)
            rows.append([name, f"{med:.2f}", f"{args.mb / med:.0f}"])
            results[name] = {"median_s": med, "mb_per_s": args.mb / med, "runs": ts}
        ratio = statistics.median(times["olympus"]) / statistics.median(times["peer"])
        results["time_ratio_olympus_vs_peer"] = ratio

        # interruption at 50%, then a second run (a restarted process)
        inter = {}
        for name in ("olympus", "peer"):
            with temp_dir(f"bench-int-{name}-") as d:
                start = hub.state.sent_bytes
                hub.state.drop_after[FILE] = (size // 2, 100)
                try:
                    if name == "olympus":
                        from shared_utils.hub_download import download_gguf

                        download_gguf(
                            REPO, [FILE], d, endpoint=hub.url, sleep=lambda s: None, max_retries=0
                        )
                    else:
                        _peer(hub.url, d)
                except Exception as exc:  # noqa: BLE001 - the interruption is the point
                    print(f"{name}: first run interrupted ({type(exc).__name__})")
                hub.state.drop_after.clear()
                t0 = time.perf_counter()
                (_olympus if name == "olympus" else _peer)(hub.url, d)
                inter[name] = {
                    "second_run_s": time.perf_counter() - t0,
                    "fetched_mb_total": (hub.state.sent_bytes - start) / 2**20,
                }
        results["interrupted"] = inter

    from src.models.profile import detect
    from src.settings import load_settings

    with temp_dir("bench-detect-") as d:
        s = load_settings(data_dir=d)
        detect(s)
        det = []
        for _ in range(5):
            t0 = time.perf_counter()
            detect(s)
            det.append(time.perf_counter() - t0)
    results["detect_ms_median"] = statistics.median(det) * 1000

    print(format_table(["downloader", "median s", "MB/s"], rows))
    print(f"olympus/peer time ratio: {ratio:.2f} (olympus verifies sha256 as bytes arrive)")
    print(
        format_table(
            ["after a drop at 50%", "2nd run s", "MB fetched in total"],
            [
                [k, f"{v['second_run_s']:.2f}", f"{v['fetched_mb_total']:.0f}"]
                for k, v in inter.items()
            ],
        )
    )
    print(f"profile detect: {results['detect_ms_median']:.1f} ms (median of 5)")
    write_json("download", results)


if __name__ == "__main__":
    main()
