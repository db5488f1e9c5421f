"""The claim check's precision and recall (``src/answer/claims.py``) on labelled (sentence, cited
passage, supported?) pairs, dev and test side by side, against the previous check in the same run.

    .venv/bin/python -m benchmarks.claim_check [--calibrate]

``benchmarks/data/claim_set.json`` holds the pairs (paraphrases, and plausible but wrong claims
taken from real small-model answers), each with a ``split`` (dev or test). Each sentence is
checked citing its passage (``sentence [1]``) and gets one of the three marks a reader sees
(``claims.MARKS``): ✓ (``supported``: the passage states it), ? (``unverified``: it shares
the passage's words and specifics without being stated; not struck) or ✗ (``contradicted`` or
``miscited``: struck through). Printed per split, for the check and for the baseline (the
previous check, a word share: ``previous_check``): precision of the ✓ (the goal: >= 0.95 on
test) and recall; then how the three marks fall on supported and unsupported pairs, and how
many sentences of the extract made from each passage (quotes: all should) get a ✓.
``--calibrate`` tries the alignment's settings on dev only (they are chosen there; test only
measures), each also on wrong claims made from dev's right ones (``claim_perturb.py``). No
model, no library: it runs in seconds. Writes benchmarks/results/claim_check.json.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from typing import Any

from benchmarks import common

CLAIM_SET = common.DATA_DIR / "claim_set.json"
# the alignment's settings tried by --calibrate, one at a time (the others as they are)
SETTINGS = {
    "MIN_ORDER": (0.7, 0.8, 0.9, 1.0),
    "MAX_WINDOW": (1, 2, 3),
    "MAX_GAP": (2, 3, 4, 8),
    "MAX_BROKEN": (0, 1),
}


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


def verdict(pair: dict[str, Any]) -> str:
    """What a reader sees on this sentence citing this passage: ✓, ? (not verified) or ✗
    (struck; the worst mark over its claims when the check splits it)."""
    from src.answer.citations import strip_markers
    from src.answer.claims import MARKS, check_claims

    sentence = strip_markers(pair["sentence"]).rstrip()
    shown = {MARKS[c.status] for c in check_claims(f"{sentence} [1]", [_passage(pair)])}
    return next((v for v in ("✗", "?", "✓") if v in shown), "?")


def previous_check(pair: dict[str, Any]) -> bool:
    """The ✓ of the check this one replaced: half of the sentence's content words (stemmed) in
    the passage, and each of its specifics somewhere in it (as a substring: "10" in "1000")."""
    from src.answer import claims
    from src.answer.citations import strip_markers

    sentence, passage = strip_markers(pair["sentence"]).rstrip(), _passage(pair)
    terms = claims._terms(sentence)
    share = claims._share(
        terms, claims._terms(passage), claims.specifics(sentence), " ".join(passage.split())
    )
    return len(terms) >= claims.MIN_CLAIM_TERMS and share >= claims.SUPPORT_SHARE


def _scores(said: list[bool], truth: list[bool]) -> dict[str, Any]:
    tp = sum(s and t for s, t in zip(said, truth, strict=True))
    fp = sum(s and not t for s, t in zip(said, truth, strict=True))
    fn = sum(t and not s for s, t in zip(said, truth, strict=True))
    return {
        "precision": round(tp / (tp + fp), 3) if tp + fp else None,
        "recall": round(tp / (tp + fn), 3) if tp + fn else None,
        "tp": tp,
        "fp": fp,
    }


def measure(pairs: list[dict[str, Any]]) -> dict[str, Any]:
    """The check's and the baseline's ✓ scores, and the verdicts by label."""
    verdicts = [verdict(p) for p in pairs]
    before = [previous_check(p) for p in pairs]
    truth = [bool(p["supported"]) for p in pairs]
    by_label = Counter(
        (("supported" if t else "unsupported"), v) for t, v in zip(truth, verdicts, strict=True)
    )
    return {
        "pairs": len(pairs),
        "check": _scores([v == "✓" for v in verdicts], truth),
        "baseline": _scores(before, truth),
        "verdicts": {f"{label} {v}": n for (label, v), n in sorted(by_label.items())},
        "false_ticks": [
            p["id"] for p, v, t in zip(pairs, verdicts, truth, strict=True) if v == "✓" and not t
        ],
    }


def extract_ticks(pairs: list[dict[str, Any]]) -> tuple[int, int]:
    """(claims given a ✓, claims) over the extract Olympus shows for each pair's passage (the
    pair's sentence as the question): quotes, so each should get its ✓."""
    from shared_utils.generation.extractive import PromptSource, extract
    from src.answer.claims import check_claims

    ticked = claims = 0
    for pair in pairs:
        passage = _passage(pair)
        shown = extract(pair["sentence"], [PromptSource(1, pair.get("document", ""), passage)])
        checks = [c for c in check_claims(shown, [passage]) if c.status != "no_claim"]
        claims += len(checks)
        ticked += sum(c.status == "supported" for c in checks)
    return ticked, claims


def by_split(pairs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    splits = sorted({p["split"] for p in pairs})
    return {s: measure([p for p in pairs if p["split"] == s]) for s in splits}


def _rows(results: dict[str, dict[str, Any]]) -> list[list[object]]:
    rows: list[list[object]] = []
    for which in ("baseline", "check"):
        row: list[object] = [which]
        for split in results:
            m = results[split][which]
            row += [m["precision"], m["recall"], f"{m['tp']}/{m['tp'] + m['fp']}"]
        rows.append(row)
    return rows


def _verdict_rows(results: dict[str, dict[str, Any]]) -> list[list[object]]:
    rows: list[list[object]] = []
    for label in ("supported", "unsupported"):
        for v in ("✓", "?", "✗"):
            rows.append(
                [f"{label}, shown {v}"]
                + [results[s]["verdicts"].get(f"{label} {v}", 0) for s in results]
            )
    return rows


def perturbed_ticks(dev: list[dict[str, Any]]) -> tuple[int, int]:
    """(changed sentences given a ✓, changed sentences) over the dev sentences that are
    supported and get a ✓ (``benchmarks/claim_perturb.py``): lower is better."""
    from benchmarks.claim_perturb import perturbations

    ticked = given = 0
    for pair in dev:
        if not pair["supported"] or verdict(pair) != "✓":
            continue
        for _, changed in perturbations(pair["sentence"], _passage(pair)):
            given += 1
            ticked += verdict({**pair, "sentence": changed}) == "✓"
    return ticked, given


def calibrate(pairs: list[dict[str, Any]]) -> list[list[object]]:
    """The check's ✓ on dev (and on wrong claims made from dev's right ones) for each setting
    of the alignment, one setting changed at a time (dev chooses them)."""
    import src.answer.claim_alignment as alignment
    from src.answer.claims import checked

    dev = [p for p in pairs if p["split"] == "dev"]
    names = ("MIN_ORDER", "MAX_WINDOW", "MAX_GAP", "MAX_BROKEN")
    saved = {n: getattr(alignment, n) for n in names}
    rows: list[list[object]] = []
    try:
        for name, values in SETTINGS.items():
            for value in values:
                setattr(alignment, name, value)
                checked.cache_clear()  # results of the previous setting
                m = measure(dev)["check"]
                ticked, given = perturbed_ticks(dev)
                rows.append(
                    [
                        name,
                        value,
                        m["precision"],
                        m["recall"],
                        m["tp"],
                        m["fp"],
                        f"{ticked}/{given}",
                    ]
                )
            setattr(alignment, name, saved[name])
    finally:
        for n, v in saved.items():
            setattr(alignment, n, v)
        checked.cache_clear()
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--calibrate", action="store_true", help="try the alignment's settings on dev"
    )
    args = parser.parse_args(argv)
    info = common.begin()
    pairs = load_pairs()
    results: dict[str, Any] = {"machine": info}
    if args.calibrate:
        rows = calibrate(pairs)
        print(
            common.format_table(
                ["setting", "value", "dev precision", "dev recall", "tp", "fp", "dev changed ✓"],
                rows,
            )
        )
        results["calibration"] = rows
        print(f"wrote {common.write_json('claim_check_calibration', results)}")
        return
    splits = by_split(pairs)
    results["splits"] = splits
    results["extract"] = {s: extract_ticks([p for p in pairs if p["split"] == s]) for s in splits}
    headers = ["✓ given by"] + [
        f"{s} {h}" for s in splits for h in ("precision", "recall", "✓ right")
    ]
    print(common.format_table(headers, _rows(splits)))
    print()
    print(common.format_table(["pairs", *splits], _verdict_rows(splits)))
    print(
        "extract lines given a ✓: "
        + ", ".join(f"{s} {t} of {n}" for s, (t, n) in results["extract"].items())
    )
    for split, m in splits.items():
        for pair_id in m["false_ticks"]:
            print(f"  {split}: wrong ✓ {pair_id}")
    print(f"wrote {common.write_json('claim_check', results)}")


if __name__ == "__main__":
    main()
