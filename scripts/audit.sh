#!/usr/bin/env bash
# Dependency audit: every runtime requirement pinned with ==, then pip-audit against a
# vulnerability database (PyPI's JSON API / OSV).
#
#   bash scripts/audit.sh [REQUIREMENTS_FILE ...]   (default: requirements.txt requirements-nodeps.txt)
#   bash scripts/audit.sh --probes                  the attack probes of issue #24 instead
#
# --probes runs each attack (tests/security/test_attacks.py) against a real Olympus on
# loopback (front, Streamlit, API; no model needed) and prints a table: attack, result,
# seconds. Exit 0 when every probe holds, 1 otherwise.
#
# Exit codes: 0 no known vulnerability, 1 vulnerabilities found, 2 no vulnerability database
# reachable (nothing was audited), 3 a requirement is not pinned with ==, 4 pip-audit missing.
# AUDIT_PROBE_URL overrides the reachability probe (default: PyPI's JSON API).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
if [ "${1:-}" = "--probes" ]; then
    PYTHON="${ROOT}/.venv/bin/python"
    [ -x "$PYTHON" ] || PYTHON="$(command -v python3)"
    report="$(mktemp -d)"
    trap 'rm -rf "$report"' EXIT
    set +e
    "$PYTHON" -m pytest tests/security/test_attacks.py -q -p no:cacheprovider \
        --basetemp "$report/tmp" --junitxml "$report/probes.xml" >"$report/pytest.log" 2>&1
    code=$?
    set -e
    "$PYTHON" - "$report/probes.xml" <<'PY'
import sys
import xml.etree.ElementTree as ET

try:
    cases = ET.parse(sys.argv[1]).getroot().iter("testcase")
except (OSError, ET.ParseError) as exc:
    print(f"audit: the probes did not run ({exc})", file=sys.stderr)
    sys.exit(2)
rows = []
for case in cases:
    name = case.get("name", "").removeprefix("test_").replace("_", " ")
    failed = case.find("failure") is not None or case.find("error") is not None
    skipped = case.find("skipped") is not None
    result = "FAILS" if failed else "skipped" if skipped else "holds"
    rows.append((name, result, f"{float(case.get('time', 0)):.0f}"))
width = max(len(r[0]) for r in rows) if rows else 10
print(f"{'attack / what must hold':<{width}}  result  seconds")
print(f"{'-' * width}  ------  -------")
for name, result, seconds in rows:
    print(f"{name:<{width}}  {result:<6}  {seconds:>7}")
PY
    if [ "$code" -ne 0 ]; then
        echo "audit: some probes fail; details:" >&2
        tail -40 "$report/pytest.log" >&2
        exit 1
    fi
    exit 0
fi
if [ "$#" -gt 0 ]; then FILES=("$@"); else FILES=(requirements.txt requirements-nodeps.txt); fi
PYTHON="${ROOT}/.venv/bin/python"
[ -x "$PYTHON" ] || PYTHON="$(command -v python3)"

# 1. every requirement is pinned (name==version), so what is audited is what ships
unpinned=0
for f in "${FILES[@]}"; do
    while IFS= read -r line; do
        req="${line%%#*}"; req="$(echo "$req" | xargs)"
        [ -z "$req" ] && continue
        case "$req" in -*) continue ;; esac  # pip options (--index-url, -r ...)
        if ! [[ "$req" =~ ^[A-Za-z0-9._-]+(\[[A-Za-z0-9,._-]+\])?==[A-Za-z0-9.+!_-]+(\ *\;.*)?$ ]]; then
            echo "audit: $f: '$req' is not pinned with == (pin it to the tested version)" >&2
            unpinned=1
        fi
    done < "$f"
done
[ "$unpinned" -eq 0 ] || exit 3
echo "audit: every requirement in ${FILES[*]} is pinned with =="

# 2. pip-audit is installed (requirements-dev.txt)
if ! "$PYTHON" -m pip_audit --version >/dev/null 2>&1; then
    echo "audit: pip-audit is not installed; run: .venv/bin/pip install -r requirements-dev.txt" >&2
    exit 4
fi

# 3. a vulnerability database is reachable (not from an offline build machine)
PROBE="${AUDIT_PROBE_URL:-https://pypi.org/pypi/pip/json}"
if ! "$PYTHON" - "$PROBE" <<'PY' 2>/dev/null
import sys, urllib.request
urllib.request.urlopen(sys.argv[1], timeout=8).read(1)
PY
then
    echo "audit: no vulnerability database is reachable from here ($PROBE);" \
         "nothing was audited. Run this script on a machine with internet access (e.g. CI)." >&2
    exit 2
fi

# 4. the audit itself: the pinned versions, exactly as listed (no resolution needed). A
# package the database does not answer for counts as "not audited", never as "no vulnerability".
args=()
for f in "${FILES[@]}"; do args+=(-r "$f"); done
report="$(mktemp)"
trap 'rm -f "$report"' EXIT
set +e
"$PYTHON" -m pip_audit --no-deps --disable-pip --progress-spinner off -f json -o "$report" \
    "${args[@]}" 2>/dev/null
set -e
"$PYTHON" - "$report" <<'PY'
import json, sys
try:
    deps = json.load(open(sys.argv[1]))["dependencies"]
except (OSError, ValueError, KeyError) as exc:
    print(f"audit: pip-audit produced no report ({exc}); nothing was audited", file=sys.stderr)
    sys.exit(2)
skipped = [d for d in deps if d.get("skip_reason")]
vulnerable = [d for d in deps if d.get("vulns")]
for d in vulnerable:
    for v in d["vulns"]:
        fix = ", ".join(v.get("fix_versions") or []) or "no fixed version yet"
        print(f"audit: {d['name']} {d['version']}: {v['id']} (fixed in {fix})")
if skipped:
    print(f"audit: {len(skipped)} of {len(deps)} packages could not be audited (the database "
          f"did not answer for them, e.g. {skipped[0]['name']}: {skipped[0]['skip_reason']}); "
          "run this script where PyPI's vulnerability data is reachable", file=sys.stderr)
if vulnerable:
    sys.exit(1)
if skipped:
    sys.exit(2)
print(f"audit: no known vulnerabilities in {len(deps)} pinned packages")
PY
