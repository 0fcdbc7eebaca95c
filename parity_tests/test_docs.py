"""The documentation is true to the code: every ```python block of README.md and docs/ runs,
the generated pages (the JSON format of every spec type, the API reference) are up to date, and
the API reference covers every public name.

Each page's blocks run in order in one namespace, in a temporary working directory. A block
whose imports need a framework this environment lacks is skipped with the reason (as is a later
block that then fails on a name the skipped one defined). Blocks that are not meant to run use
other fences (```bash, ```text, ```json). Where the docs are absent (the wheel's test
environments copy only parity_tests/), these tests skip.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import re
import sys
import traceback
from functools import cache

import pytest

from . import _frameworks

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")
DOCS = os.path.join(ROOT, "docs")
HAVE_DOCS = all(
    os.path.exists(p)
    for p in (README, DOCS, os.path.join(ROOT, "mkdocs.yml"), os.path.join(ROOT, "tools", "gen_docs.py"))
)
pytestmark = pytest.mark.skipif(
    not HAVE_DOCS,
    reason="the docs are not here (README.md, docs/, mkdocs.yml, "
    "tools/: a wheel's test environment copies only parity_tests/)",
)

# The top-level modules a block may import that an environment can lack: (probe in _frameworks, what
# installs it). The probe is _frameworks' HAS_* flag where it has one, else an import attempt.
FRAMEWORKS = {
    "torch": ("HAS_TORCH", "clr-spec[torch]"),
    "clr_torch": ("HAS_TORCH", "clr-spec[torch]"),
    "jax": ("HAS_JAX", "clr-spec[jax]"),
    "optax": ("HAS_JAX", "clr-spec[jax]"),
    "clr_optax": ("HAS_JAX", "clr-spec[jax]"),
    "flax": ("HAS_FLAX", "clr-spec[flax]"),
    "lightning": ("HAS_LIGHTNING", "clr-spec[lightning]"),
    "pytorch_lightning": ("HAS_LIGHTNING", "clr-spec[lightning]"),
    "transformers": ("HAS_TRANSFORMERS", "clr-spec[hf]"),
    # installed without torchvision (as dev.sh does), `import timm` fails: its models need it
    "timm": ("HAS_TIMM", "an importable timm: its package imports torchvision (dev.sh installs timm without it)"),
    "orbax": ("HAS_ORBAX", "clr-spec[orbax]"),
    "matplotlib": ("HAS_MATPLOTLIB", "clr-spec[plot]"),
    "sklearn": ("HAS_SKLEARN", "clr-spec[examples]"),
}
# A framework some import of the block needs in addition to its own module (flax runs on jax).
ALSO_NEEDS = {
    "flax": ("jax",),
    "orbax": ("jax",),
    "lightning": ("torch",),
    "pytorch_lightning": ("torch",),
    "transformers": ("torch",),
    "timm": ("torch",),
}


@cache
def available(module: str) -> bool:
    probe, _ = FRAMEWORKS[module]
    flag = getattr(_frameworks, probe, None)
    if isinstance(flag, bool):
        return flag
    if importlib.util.find_spec(module) is None:
        return False
    try:  # installed is not importable: timm without torchvision fails at `import timm`
        importlib.import_module(module)
    except Exception:
        return False
    return True


FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,})(?P<lang>[\w+-]*)[^\n]*$")


def code_blocks(text: str) -> list[tuple[int, str, str]]:
    """(first line number, language, code) of each fenced block, dedented to its fence."""
    blocks, lines, i = [], text.split("\n"), 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        indent, fence, lang = match["indent"], match["fence"], match["lang"]
        start, body = i + 1, []
        i += 1
        while i < len(lines) and not re.match(rf"^{re.escape(indent)}{fence}\s*$", lines[i]):
            line = lines[i]
            body.append(line[len(indent) :] if line.startswith(indent) else line.lstrip())
            i += 1
        i += 1
        blocks.append((start + 1, lang, "\n".join(body)))
    return blocks


def python_blocks(path: str) -> list[tuple[int, str]]:
    with open(path, encoding="utf-8") as fh:
        return [(line, code) for line, lang, code in code_blocks(fh.read()) if lang in ("python", "py")]


def pages() -> list[str]:
    if not HAVE_DOCS:
        return []
    found = [README]
    for folder, _, files in os.walk(DOCS):
        found += [os.path.join(folder, f) for f in files if f.endswith(".md")]
    return sorted(found)


def missing_frameworks(code: str) -> list[str]:
    """The frameworks the block's imports need that this environment lacks."""
    modules = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            modules.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module.split(".")[0])
    needed = set()
    for module in modules & set(FRAMEWORKS):
        needed.update((module, *ALSO_NEEDS.get(module, ())))
    return sorted(f"{m} ({FRAMEWORKS[m][1]})" for m in needed if not available(m))


def _relative(path: str) -> str:
    return os.path.relpath(path, ROOT)


PAGES_WITH_CODE = [p for p in pages() if python_blocks(p)]


@pytest.mark.parametrize("page", PAGES_WITH_CODE, ids=_relative)
def test_page_code_runs(page, tmp_path, monkeypatch):
    """Every ```python block of the page runs, in order, in one namespace."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["docs"])
    namespace: dict = {"__name__": "__docs__"}
    skipped: list[str] = []
    for line, code in python_blocks(page):
        where = f"{_relative(page)}, the block at line {line}"
        lacking = missing_frameworks(code)
        if lacking:
            skipped.append(f"{where}: needs {', '.join(lacking)}")
            continue
        try:
            exec(compile(code, where, "exec"), namespace)
        except NameError as exc:
            if skipped:  # a name the skipped block defined
                skipped.append(f"{where}: {exc} (defined by a skipped block)")
                continue
            pytest.fail(f"{where} raised:\n{traceback.format_exc()}")
        except Exception:
            pytest.fail(f"{where} raised:\n{traceback.format_exc()}")
    if skipped:
        pytest.skip("; ".join(skipped))


def test_pages_have_code():
    """The extraction finds the blocks (a changed fence style would silently test nothing)."""
    assert len(PAGES_WITH_CODE) >= 5, PAGES_WITH_CODE
    assert python_blocks(README), "README.md has no ```python block"


def test_fences():
    """Each fence names its language: an unlabelled block is neither run nor said not to run."""
    unlabelled = []
    for page in pages():
        with open(page, encoding="utf-8") as fh:
            unlabelled += [f"{_relative(page)}:{line}" for line, lang, _ in code_blocks(fh.read()) if not lang]
    assert not unlabelled, f"fenced blocks without a language (python runs; bash/text/json do not): {unlabelled}"


def test_readme_is_a_front_page():
    with open(README, encoding="utf-8") as fh:
        lines = fh.read().split("\n")
    assert len(lines) < 200, f"README.md has {len(lines)} lines: the details belong in docs/"


def _gen_docs():
    spec = importlib.util.spec_from_file_location("_clr_gen_docs", os.path.join(ROOT, "tools", "gen_docs.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_spec_type_has_an_example_in_the_json_page():
    missing = _gen_docs().missing_examples()
    assert not missing, (
        f"registered spec type(s) {missing} have no example in tools/gen_docs.py's EXAMPLES: "
        "add a row each, then run python tools/gen_docs.py"
    )


def test_generated_pages_are_up_to_date():
    """docs/reference/json.md (every registered spec type) and the API pages (every public name)."""
    stale = _gen_docs().stale_pages()
    assert not stale, f"out of date: {stale}; run python tools/gen_docs.py"


@pytest.mark.parametrize("package", ["clr_spec", "clr_optax", "clr_torch"])
def test_api_reference_covers_every_public_name(package):
    gen = _gen_docs()
    names = gen.public_names(package)
    page = os.path.join(DOCS, "reference", "api", f"{package}.md")
    with open(page, encoding="utf-8") as fh:
        documented = set(re.findall(rf"^::: {package}\.(\w+)\s*$", fh.read(), flags=re.MULTILINE))
    assert names and not set(names) - documented, f"{_relative(page)} lacks {sorted(set(names) - documented)}"
    with open(os.path.join(ROOT, "mkdocs.yml"), encoding="utf-8") as fh:
        assert f"reference/api/{package}.md" in fh.read(), "the API page is not in mkdocs.yml's nav"
