"""Write the documentation pages generated from the code: the JSON format of every registered
spec type (``docs/reference/json.md``, from ``clr_spec.spec_types()``) and the API reference
pages (``docs/reference/api/<package>.md``: one mkdocstrings entry per name of the package's
``__all__``).

    python tools/gen_docs.py           # rewrite the pages
    python tools/gen_docs.py --check   # exit 1 naming each page that is out of date

``parity_tests/test_docs.py`` runs the check, so a spec type or a public name added later fails
the suite until the pages are regenerated. Needs only clr_spec (and numpy): the API pages read
``__all__`` from the packages' sources without importing torch or jax.

Adding a spec type: add one row to ``EXAMPLES`` (its class name and a representative spec);
a registered type without a row is an error that names it.
"""

from __future__ import annotations

import argparse
import ast
import inspect
import json
import os
import sys
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import clr_spec  # noqa: E402  (after the sys.path line)

DOCS = os.path.join(ROOT, "docs")
JSON_PAGE = os.path.join(DOCS, "reference", "json.md")
PACKAGES = ("clr_spec", "clr_optax", "clr_torch")


def _api_page(package: str) -> str:
    return os.path.join(DOCS, "reference", "api", f"{package}.md")


# One representative spec per registered type, by class name: Python source evaluated with
# clr_spec's names in scope (the page shows it as written). Its example document is
# ``spec.to_json()``. Keep one row per type; a new type adds one row here.
EXAMPLES: dict[str, str] = {
    "CyclicSpec": 'CyclicSpec(base_lr=0.001, max_lr=0.006, step_size_up=2000, mode="triangular2")',
    "OneCycleSpec": "OneCycleSpec(max_lr=0.1, total_steps=10_000)",
    "WarmRestartsSpec": "WarmRestartsSpec(lr=0.1, T_0=1000, T_mult=2, eta_min=1e-4)",
    "LinearSpec": "LinearSpec(lr=0.001, start_factor=0.1, total_iters=500)",
    "ConstantSpec": "ConstantSpec(lr=0.01, factor=0.5, total_iters=100)",
    "CosineAnnealingSpec": "CosineAnnealingSpec(lr=0.001, T_max=3000, eta_min=1e-5)",
    "StepSpec": "StepSpec(lr=0.1, step_size=1000, gamma=0.7)",
    "MultiStepSpec": "MultiStepSpec(lr=0.1, milestones=[5000, 10000, 15000], gamma=0.1)",
    "ExponentialSpec": "ExponentialSpec(lr=0.1, gamma=0.9997)",
    "PolynomialSpec": "PolynomialSpec(lr=0.1, total_iters=20_000, power=2.0)",
    "LambdaSpec": "LambdaSpec(lr=0.1, lr_lambda=lambda k: 0.95 ** k)",
    "MultiplicativeSpec": "MultiplicativeSpec(lr=0.1, lr_lambda=lambda k: 0.95, horizon=10_000)",
    "ChainedSpec": (
        "ChainedSpec([ConstantSpec(lr=0.1, factor=0.5, total_iters=10), ExponentialSpec(lr=0.1, gamma=0.999)])"
    ),
    "PlateauSpec": "PlateauSpec(lr=0.1, factor=0.5, patience=3)",
    "SequentialSpec": (
        "SequentialSpec([LinearSpec(lr=0.001, start_factor=0.1, total_iters=500), "
        "CosineAnnealingSpec(lr=0.001, T_max=9500)], milestones=[500])"
    ),
    "PlateauSequenceSpec": (
        "PlateauSequenceSpec([LinearSpec(lr=0.1, start_factor=0.1, total_iters=500), "
        "PlateauSpec(lr=0.1, factor=0.5, patience=3)], milestones=[500])"
    ),
    "LinearScheduleSpec": "LinearScheduleSpec(init_value=0.0, end_value=0.1, transition_steps=500)",
    "CosineDecaySpec": "CosineDecaySpec(init_value=0.1, decay_steps=10_000, alpha=0.01)",
    "HuggingFaceSpec": (
        'HuggingFaceSpec("cosine", lr=3e-4, num_warmup_steps=500, num_training_steps=10_000, num_cycles=0.5)'
    ),
    "WSDSpec": "WSDSpec(lr=3e-4, num_warmup_steps=500, num_decay_steps=2000, num_training_steps=10_000)",
    "TimmCosineSpec": (
        "TimmCosineSpec(lr=0.1, t_initial=100, cycle_mul=2.0, cycle_decay=0.5, cycle_limit=3, "
        "warmup_t=10, warmup_prefix=True)"
    ),
}


def example(name: str) -> Any:
    """The example spec of the type named ``name``."""
    return eval(EXAMPLES[name], dict(vars(clr_spec)))  # noqa: S307


def missing_examples() -> list[str]:
    """The registered spec types that have no row in ``EXAMPLES``."""
    return sorted(t.__name__ for t in clr_spec.spec_types() if t.__name__ not in EXAMPLES)


def _first_paragraph(doc: str | None) -> str:
    text = inspect.cleandoc(doc or "").split("\n\n")[0]
    return " ".join(text.split())


def _fields(cls: type, document: dict | None) -> list[tuple[str, str, str, str]]:
    """(name, default, required, in the document) for each constructor keyword."""
    rows = []
    for name, param in inspect.signature(cls).parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        default = "" if param.default is param.empty else repr(param.default)
        if document is None:
            required = "yes" if param.default is param.empty else "no"
            stored = "no"
        elif name in document:
            trimmed = {k: v for k, v in document.items() if k != name}
            try:
                cls.from_dict(trimmed)
                required = "no"
            except (ValueError, TypeError):
                required = "yes"
            stored = "yes"
        else:
            required, stored = "no", "no (not stored)"
        rows.append((name, default, required, stored))
    # Fields a document holds beyond the named keywords (a type taking **keywords).
    named = {row[0] for row in rows}
    for name in document or ():
        if name not in named and name not in ("format", "version"):
            trimmed = {k: v for k, v in document.items() if k != name}
            try:
                cls.from_dict(trimmed)
                required = "no"
            except (ValueError, TypeError):
                required = "yes"
            rows.append((name, "", required, "yes"))
    return rows


def _torch_class(cls: type) -> str:
    return f"torch's `{cls.TORCH_CLASS}`" if cls.TORCH_CLASS else "no `torch.optim.lr_scheduler` class"


JSON_INTRO = (
    "Generated by `python tools/gen_docs.py` from the registry (`clr_spec.spec_types()`); "
    "`parity_tests/test_docs.py` fails when this page is out of date."
)
JSON_RULES = (
    "Every spec is stored as one JSON object, `spec.to_json()` (`spec.to_dict()` is the same as a dict), "
    'and read back by `clr_spec.from_json(text)` (or `from_dict`), which picks the type from `"format"`. '
    'Every document has `"format"` (the type\'s name below) and `"version"` (an int; each type reads '
    "only its own version). The other fields are the constructor's keywords, named as where the schedule "
    "comes from: torch's keywords for torch's classes (a phase's `lr` is the lr torch's class scales, its "
    "`initial_lr`). Numbers may be per-group lists where the type takes one value per param group. Unknown "
    "fields, missing required fields, wrong types, NaN and Infinity and other versions are refused with an "
    "error naming the field. A field that is not required may be left out: it then takes its default. A "
    'keyword marked "not stored" is not part of the document (a function, such as `CyclicSpec`\'s '
    "`scale_fn`, is passed again when loading: `from_dict(d, scale_fn=fn)`)."
)


class MissingExamples(Exception):
    """A registered spec type has no row in ``EXAMPLES``."""


def json_page() -> str:
    missing = missing_examples()
    if missing:
        raise MissingExamples(
            f"no example spec in tools/gen_docs.py's EXAMPLES for the registered type(s) {missing}: add a row each"
        )
    out = [
        "# JSON format of every spec type",
        "",
        JSON_INTRO,
        "",
        JSON_RULES,
        "",
        "| type | format | version | torch class |",
        "|---|---|---:|---|",
    ]
    types = sorted(clr_spec.spec_types(), key=lambda t: t.__name__)
    for t in types:
        anchor = t.__name__.lower()
        torch_class = f"`{t.TORCH_CLASS}`" if t.TORCH_CLASS else "none"
        out.append(f"| [`{t.__name__}`](#{anchor}) | `{t.FORMAT}` | {t.VERSION} | {torch_class} |")
    for t in types:
        spec = example(t.__name__)
        if type(spec) is not t:
            raise MissingExamples(f"EXAMPLES[{t.__name__!r}] builds a {type(spec).__name__}")
        try:
            document = spec.to_dict()
            text, refusal = json.dumps(document, indent=2, allow_nan=False), None
        except ValueError as exc:
            document, text, refusal = None, None, str(exc)
        out += [
            "",
            f"## {t.__name__}",
            "",
            f'`"format": "{t.FORMAT}"`, `"version": {t.VERSION}`; {_torch_class(t)}.',
            "",
        ]
        summary = _first_paragraph(t.__doc__)
        if summary:
            out += [summary, ""]
        if document is None:
            out += ["| keyword | default |", "|---|---|"]
            for name, default, _, _ in _fields(t, document):
                out.append(f"| `{name}` | {f'`{default}`' if default else ''} |")
        else:
            out += ["| field | default | required | in the document |", "|---|---|---|---|"]
            for name, default, required, stored in _fields(t, document):
                out.append(f"| `{name}` | {f'`{default}`' if default else ''} | {required} | {stored} |")
        if refusal is not None:
            out += ["", "Not stored as JSON: `to_json()` refuses it with", "", "```text", refusal, "```"]
        else:
            out += ["", f"Example (`{EXAMPLES[t.__name__]}`):", "", "```json", text, "```"]
    return "\n".join(out) + "\n"


def public_names(package: str) -> list[str]:
    """The package's ``__all__``, read from its ``__init__.py`` without importing it."""
    with open(os.path.join(ROOT, package, "__init__.py")) as fh:
        tree = ast.parse(fh.read())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__all__" for t in node.targets):
            return list(ast.literal_eval(node.value))
    raise SystemExit(f"{package}/__init__.py has no __all__")


INTROS = {
    "clr_spec": "Framework-free specs: imports neither torch nor jax.",
    "clr_optax": "Optax schedules and torch-rule optimizers from specs: imports jax and optax, never torch.",
    "clr_torch": "PyTorch schedulers from specs, and the drop-in `CyclicLR`: imports torch, never jax.",
}


def api_page(package: str) -> str:
    names = public_names(package)
    generated = (
        f"Generated by `python tools/gen_docs.py`: one entry per name of `{package}.__all__`, from the docstrings."
    )
    out = [f"# `{package}`", "", INTROS[package], "", generated, ""]
    for name in names:
        out += [f"::: {package}.{name}", ""]
    return "\n".join(out)


def api_pages() -> dict[str, str]:
    return {_api_page(package): api_page(package) for package in PACKAGES}


def stale_pages() -> list[str]:
    """The generated pages whose checked-in text differs from what the code gives now (the JSON
    page, with the reason, where a registered type has no example)."""
    stale = []
    try:
        expected = {JSON_PAGE: json_page()}
    except MissingExamples as exc:
        stale.append(f"{os.path.relpath(JSON_PAGE, ROOT)} ({exc})")
        expected = {}
    for path, text in {**expected, **api_pages()}.items():
        try:
            with open(path) as fh:
                current = fh.read()
        except FileNotFoundError:
            current = None
        if current != text:
            stale.append(os.path.relpath(path, ROOT))
    return stale


def _write(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as fh:
        fh.write(text)
    print("wrote", os.path.relpath(path, ROOT))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 naming the pages that are out of date")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_pages()
        if stale:
            print("out of date (run python tools/gen_docs.py):", "; ".join(stale))
            return 1
        return 0
    for path, text in api_pages().items():
        _write(path, text)
    try:
        _write(JSON_PAGE, json_page())
    except MissingExamples as exc:
        print(f"tools/gen_docs.py: {os.path.relpath(JSON_PAGE, ROOT)} not written: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
