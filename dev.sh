#!/usr/bin/env bash
# One entry point for people and CI: sets up .venv (torch pinned to the 2.13.0 CPU wheel,
# jax, optax; see constraints.txt) on first use, then runs what you ask for.
#   bash dev.sh demo    torch-vs-optax trajectory comparison (prints a table, writes out/demo.png)
#   bash dev.sh test    the full test suite (what .ci/run runs)
#   bash dev.sh bench   the benchmarks (ratios against torch's CyclicLR and optax's schedules)
set -euo pipefail
cd "$(dirname "$0")"
venv="${CLR_VENV:-.venv}"

setup() {
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  local stamp="$venv/.clr-installed"
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ constraints.txt -nt "$stamp" ]; then
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -c constraints.txt -e ".[all]"
    touch "$stamp"
  fi
}

command="${1:-}"
[ $# -gt 0 ] && shift
case "$command" in
  demo)  setup; exec "$venv/bin/python" examples/demo.py "$@" ;;
  test)  setup; exec "$venv/bin/python" -m pytest "$@" ;;
  bench) setup; exec "$venv/bin/python" benchmarks/run_all.py "$@" ;;
  *) echo "usage: bash dev.sh {demo|test|bench} [args...]" >&2; exit 2 ;;
esac
