"""The claim check's precision and recall (``src/answer/claims.py``) on labelled (sentence, cited
passage, supported?) pairs, dev and test side by side.

    .venv/bin/python -m benchmarks.claim_check [--calibrate]

``benchmarks/data/claim_set.json`` holds the pairs (paraphrases, and plausible but wrong claims
taken from real small-model answers), each with a ``split`` (dev or test). A pair is predicted
supported (the ✓ a user sees) when ``check_claims`` gives the sentence, citing the passage,
the status ``supported``. Printed per split: precision of the ✓ (the goal: >= 0.95 on test),
recall, and the counts. ``--calibrate`` prints the same for several support shares on dev only
(the share is chosen there; test only measures). No model, no library: it runs in seconds.
Writes benchmarks/results/claim_check.json.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from benchmarks import common

CLAIM_SET = common.DATA_DIR / "claim_set.json"
SHARES = (0.4, 0.5, 0.6, 0.7, 0.8)


def load_pairs() -> list[dict[str, Any]]:
    data = json.loads(CLAIM_SET.read_text(encoding="utf-8"))
    pairs = data if isinstance(data, list) else data.get("pairs") or data.get("claims") or []
    out = [dict(p) for p in pairs if isinstance(p, dict)]
    for p in out:  # "claim_dev" / "claim_test" -> dev / test
        p["split"] = str(p.get("split", "dev")).removeprefix("claim_")
    return out


def _passage(pair: dict[str, Any]) -> str:
    for key in ("passage", "source", "cited_passage", "context", "text"):
        if isinstance(pair.get(key), str):
            return pair[key]
    raise SystemExit(f"claim pair {pair.get('id')!r} has no passage text")


def predicted(pair: dict[str, Any]) -> bool:
    """Whether the claim check gives this sentence, citing this passage, a ✓."""
    from src.answer.citations import strip_markers
    from src.answer.claims import check_claims

    sentence = strip_markers(pair["sentence"]).rstrip()
    checks = [c for c in check_claims(f"{sentence} [1]", [_passage(pair)])
              if c.status != "no_claim"]
    return bool(checks) and all(c.status == "supported" for c in checks)


def measure(pairs: list[dict[str, Any]]) -> dict[str, Any]:
    tp = fp = fn = tn = 0
    wrong: list[str] = []
    for pair in pairs:
        said, truth = predicted(pair), bool(pair["supported"])
        tp += said and truth
        fp += said and not truth
        fn += truth and not said
        tn += not said and not truth
        if said and not truth:
            wrong.append(pair["sentence"])
    return {"pairs": len(pairs), "precision": round(tp / (tp + fp), 3) if tp + fp else None,
            "recall": round(tp / (tp + fn), 3) if tp + fn else None,
            "tp": tp, "fp": fp, "fn": fn, "tn": tn, "false_ticks": wrong}


def by_split(pairs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    splits = sorted({p.get("split", "dev") for p in pairs})
    return {s: measure([p for p in pairs if p.get("split", "dev") == s]) for s in splits}


def _row(label: str, m: dict[str, Any]) -> list[object]:
    return [label, m["pairs"], m["precision"], m["recall"], m["tp"], m["fp"], m["fn"], m["tn"]]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calibrate", action="store_true", help="try support shares on dev")
    args = parser.parse_args(argv)
    info = common.begin()
    pairs = load_pairs()
    headers = ["split", "pairs", "precision", "recall", "tp", "fp", "fn", "tn"]
    results: dict[str, Any] = {"machine": info}
    if args.calibrate:
        import src.answer.claims as claims

        dev = [p for p in pairs if p.get("split", "dev") == "dev"]
        saved, rows = claims.SUPPORT_SHARE, []
        try:
            for share in SHARES:
                claims.SUPPORT_SHARE = share
                rows.append(_row(f"dev, share {share}", measure(dev)))
        finally:
            claims.SUPPORT_SHARE = saved
        print(common.format_table(headers, rows))
        results["calibration"] = rows
        common.write_json("claim_check_calibration", results)
        return
    results["splits"] = by_split(pairs)
    print(common.format_table(headers, [_row(s, m) for s, m in results["splits"].items()]))
    for split, m in results["splits"].items():
        for sentence in m["false_ticks"]:
            print(f"  {split}: wrong ✓ {sentence!r}")
    print(f"wrote {common.write_json('claim_check', results)}")


if __name__ == "__main__":
    main()
