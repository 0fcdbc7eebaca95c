#!/usr/bin/env bash
# One entry point for people and CI: sets up .venv on first use (versions pinned by
# constraints.txt: torch 2.13.0, jax, optax), then runs what you ask for.
#   bash dev.sh demo    torch-vs-optax trajectory comparison (prints a table, writes out/demo.png)
#   bash dev.sh test    the full test suite (what .ci/run runs): ruff, mypy on the library, the docs site (mkdocs
#                       --strict), the source tree, then the built
#                       wheel in fresh torch-only and jax-only environments (pytest arguments,
#                       if given, run just those tests on the source tree)
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
    # timm (tests against its schedulers): without its dependencies, which pull torchvision; its
    # scheduler modules import only torch, and pyyaml/huggingface_hub/safetensors come with [hf].
    pip_install "$venv/bin/python" --no-deps timm
    touch "$stamp"
  fi
}

dist_check() {
  # The built artifacts, not the source tree: wheel and sdist metadata, then the wheel alone in
  # fresh environments with one framework each, running the tests that apply there.
  local out=build/dist-check
  rm -rf "$out" && mkdir -p "$out/tests"
  "$venv/bin/python" -m build --no-isolation --outdir "$out/dist" . > "$out/build.log" 2>&1 \
    || { cat "$out/build.log"; return 1; }
  "$venv/bin/python" tools/check_dist.py "$out/dist"
  local wheel; wheel="$(ls "$out"/dist/clr_spec-*.whl)"
  cp -r parity_tests pyproject.toml "$out/tests/"   # pyproject: pytest's settings only
  # The jax-only environment gets the oldest jax and optax that pyproject.toml admits.
  { grep -v -E '^(jax|jaxlib|optax)==' constraints.txt; grep -E '^[a-z]' constraints-oldest.txt; } \
    > "$out/constraints-jax-oldest.txt"
  for extra in torch jax; do
    python3 -m venv "$out/venv-$extra"
    local python="$out/venv-$extra/bin/python" tests=(pytest hypothesis pytest-xdist)
    if [ "$extra" = torch ]; then
      install_torch "$python"
      pip_install "$python" "$wheel[torch]" "${tests[@]}"
    else
      "$python" -m pip install --quiet --disable-pip-version-check -c "$out/constraints-jax-oldest.txt" \
        "$wheel[jax]" "${tests[@]}"
    fi
    echo "== the wheel with only the [$extra] extra, in a fresh environment:" \
      "$("$python" -m pip list 2>/dev/null | grep -E '^(torch|jax|optax) ' | tr -s ' ' | paste -sd, -)"
    (cd "$out/tests" && "../venv-$extra/bin/python" -m pytest -q -p no:cacheprovider -n 2 -o addopts=-ra \
      parity_tests)
  done
}

command="${1:-}"
[ $# -gt 0 ] && shift
case "$command" in
  demo)  setup; exec "$venv/bin/python" examples/demo.py "$@" ;;
  test)  # With no arguments: the whole suite, then the built wheel (dist_check). With pytest
         # arguments (a file, -k ...): just those tests, on the source tree.
         setup
         [ $# -gt 0 ] || { echo "== ruff (lint, then the format check)"; "$venv/bin/python" -m ruff check .;
                           "$venv/bin/python" -m ruff format --check .; }
         [ $# -gt 0 ] || { echo "== mypy on the library packages"; "$venv/bin/python" -m mypy; }
         [ $# -gt 0 ] || { echo "== the docs site (mkdocs, warnings are errors)"; NO_MKDOCS_2_WARNING=1 "$venv/bin/python" -m mkdocs build --strict --site-dir build/site; }
         "$venv/bin/python" -m pytest "$@"; [ $# -gt 0 ] || dist_check ;;
  bench) setup; exec "$venv/bin/python" benchmarks/run_all.py "$@" ;;
  *) echo "usage: bash dev.sh {demo|test|bench} [args...]" >&2; exit 2 ;;
esac
