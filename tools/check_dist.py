"""Check the built wheel and sdist: names, metadata, extras, entry point and contents.

    python tools/check_dist.py DIST_DIR      # exit 1 with a list of problems, 0 if all hold

Run by ``bash dev.sh test`` after ``python -m build``; the wheel is then installed in fresh
torch-only and jax-only environments and the tests run against it there.
"""

from __future__ import annotations

import ast
import email.parser
import glob
import os
import sys
import tarfile
import zipfile


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _version() -> str:
    """The one version source, clr_spec.__version__, read without importing the package."""
    path = os.path.join(ROOT, "clr_spec", "__init__.py")
    with open(path) as fh:
        for node in ast.parse(fh.read()).body:
            if isinstance(node, ast.Assign) and [t.id for t in node.targets if isinstance(t, ast.Name)] == [
                "__version__"
            ]:
                return ast.literal_eval(node.value)
    raise SystemExit(f"no __version__ in {path}")


def _readme_title() -> str:
    """The README's first line (its title), which the long description must hold."""
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as fh:
        return fh.readline().strip()


NAME, VERSION, README_TITLE = "clr-spec", _version(), _readme_title()
PACKAGES = ("clr_spec", "clr_optax", "clr_torch")
EXTRAS = {"torch": ["torch"], "jax": ["jax", "optax"], "plot": ["matplotlib"]}


def problems_of_wheel(path: str) -> list[str]:
    problems = []
    with zipfile.ZipFile(path) as wheel:
        names = wheel.namelist()
        dist_info = f"clr_spec-{VERSION}.dist-info"
        meta = email.parser.Parser().parsestr(wheel.read(f"{dist_info}/METADATA").decode())
        entry_points = wheel.read(f"{dist_info}/entry_points.txt").decode()
    if meta["Name"] != NAME or meta["Version"] != VERSION:
        problems.append(f"wheel metadata names {meta['Name']} {meta['Version']}, expected {NAME} {VERSION}")
    if not meta.get("Requires-Python"):
        problems.append("no Requires-Python")
    if README_TITLE not in (meta.get_payload() or ""):
        problems.append(f"the README is not the long description (no {README_TITLE!r} in it)")
    requires = meta.get_all("Requires-Dist") or []
    extras = set(meta.get_all("Provides-Extra") or [])
    for extra, modules in EXTRAS.items():
        if extra not in extras:
            problems.append(f"extra {extra!r} missing (has {sorted(extras)})")
        for module in modules:
            if not any(r.startswith(module) and f'extra == "{extra}"' in r for r in requires):
                problems.append(f"extra {extra!r} does not require {module}")
    for core in ("torch", "jax", "optax", "matplotlib"):
        if any(r.startswith(core) and "extra ==" not in r for r in requires):
            problems.append(f"{core} is a core dependency; it must be an extra")
    if "clr = clr_spec.cli:main" not in entry_points:
        problems.append("no `clr` console script")
    for name in ("torch = clr_torch._trajectory", "clr_optax = clr_optax._trajectory"):
        if name not in entry_points:
            problems.append(f"no clr_spec.evaluators entry point {name!r} (clr check finds the frameworks by it)")
    if not any(n.endswith(".dist-info/licenses/LICENSE") for n in names):
        problems.append("the LICENSE file is not in the wheel")
    for package in PACKAGES:
        for required in ("__init__.py", "py.typed"):
            if f"{package}/{required}" not in names:
                problems.append(f"{package}/{required} not in the wheel")
    strays = [n for n in names if n.split("/")[0] not in (*PACKAGES, dist_info)]
    if strays:
        problems.append(f"unexpected files in the wheel: {strays[:5]}")
    return problems


def problems_of_sdist(path: str) -> list[str]:
    with tarfile.open(path) as sdist:
        names = {n.split("/", 1)[1] for n in sdist.getnames() if "/" in n}
    needed = ["pyproject.toml", "README.md", "PKG-INFO"] + [f"{p}/__init__.py" for p in PACKAGES]
    return [f"{n} not in the sdist" for n in needed if n not in names]


def main(dist: str) -> int:
    wheels = glob.glob(os.path.join(dist, "clr_spec-*.whl"))
    sdists = glob.glob(os.path.join(dist, "clr_spec-*.tar.gz"))
    if len(wheels) != 1 or len(sdists) != 1:
        print(f"expected one wheel and one sdist in {dist}, found {wheels + sdists}")
        return 1
    problems = problems_of_wheel(wheels[0]) + problems_of_sdist(sdists[0])
    for problem in problems:
        print(f"dist check: {problem}")
    if not problems:
        print(
            f"dist check: {os.path.basename(wheels[0])} and {os.path.basename(sdists[0])}: metadata, extras, "
            "entry point and contents as expected"
        )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
