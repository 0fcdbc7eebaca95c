#!/usr/bin/env bash
# One entry point for people and CI: sets up .venv on first use (versions pinned by
# constraints.txt: torch 2.13.0, jax, optax), then runs what you ask for.
#   bash dev.sh demo    torch-vs-optax trajectory comparison (prints a table, writes out/demo.png)
#   bash dev.sh test    the full test suite (what .ci/run runs): the source tree, then the built
#                       wheel in fresh torch-only and jax-only environments
#   bash dev.sh bench   the benchmarks (ratios against torch's CyclicLR and optax's schedules)
#
# pip's own settings (pip.conf, PIP_INDEX_URL, PIP_EXTRA_INDEX_URL, PIP_FIND_LINKS) are used as
# they are. torch is installed first, pinned, so that nothing later pulls an unpinned one. On
# PyPI, torch 2.13.0 for Linux is the CUDA build (a ~0.5 GB wheel and ~1 GB of nvidia
# libraries); for the CPU-only build set CLR_TORCH_INDEX_URL to PyTorch's CPU index:
#   CLR_TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu bash dev.sh test
set -euo pipefail
cd "$(dirname "$0")"
venv="${CLR_VENV:-.venv}"

pip_install() {   # pip_install PYTHON ARGS...: quiet, pinned by constraints.txt
  local python="$1"; shift
  "$python" -m pip install --quiet --disable-pip-version-check -c constraints.txt "$@"
}

install_torch() {   # install_torch PYTHON: the pinned torch, from CLR_TORCH_INDEX_URL if set
  pip_install "$1" ${CLR_TORCH_INDEX_URL:+--extra-index-url "$CLR_TORCH_INDEX_URL"} torch
}

setup() {
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  local stamp="$venv/.clr-installed"
  if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ constraints.txt -nt "$stamp" ]; then
    install_torch "$venv/bin/python"
    pip_install "$venv/bin/python" -e ".[all]"
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
