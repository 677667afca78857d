#!/usr/bin/env bash
# Checks the observability files: the alerting rules, their unit tests, and the dashboards
# (valid JSON; every datasource is the `${datasource}` variable, never a fixed uid).
# Needs promtool (Debian: apt-get install prometheus) and python3.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

promtool check rules alerts.yml
promtool test rules alerts_test.yml

for f in *.json; do
  python3 -m json.tool "$f" >/dev/null || { echo "$f: not valid JSON" >&2; exit 1; }
done

python3 - *.json <<'PY'
import json, re, sys

errors = []

def walk(node, where, path):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "datasource":
                if not (isinstance(value, dict) and value.get("uid") == "${datasource}"
                        and value.get("type") == "prometheus"):
                    errors.append(f"{where}: {path}.datasource is {json.dumps(value)}, "
                                  'expected {"type": "prometheus", "uid": "${datasource}"}')
            walk(value, where, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            walk(value, where, f"{path}[{i}]")

for name in sys.argv[1:]:
    with open(name, encoding="utf-8") as f:
        board = json.load(f)
    walk(board, name, "$")
    for panel in board.get("panels", []):
        title = panel.get("title", "?")
        if "datasource" not in panel:
            errors.append(f"{name}: panel {title!r} has no datasource")
        for target in panel.get("targets", []):
            if "datasource" not in target:
                errors.append(f"{name}: a target of panel {title!r} has no datasource")
            expr = target.get("expr", "")
            if re.search(r"\$(?!__rate_interval\b)", expr):
                errors.append(f"{name}: panel {title!r} uses a variable other than "
                              f"$__rate_interval: {expr}")

for e in errors:
    print(e, file=sys.stderr)
if errors:
    sys.exit(1)
print(f"dashboards: {len(sys.argv) - 1} files OK")
PY
