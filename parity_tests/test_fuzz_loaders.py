"""Property: every loader, fed mutated documents and damaged torch states, either reads them or
refuses them with a ``ValueError``/``TypeError`` (the CLI: exit 2 and one line), never another
exception. Seeds: a valid document and a torch state of every registered spec type (the
conformance rows); mutations: a value anywhere replaced (huge, negative, NaN, infinite, the wrong
type, a container), a key deleted or added, a container nested deeper, a state put inside itself.
Derandomized, no example database (``conftest.py``); about 20 s.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import math
import os
import tempfile
import warnings
from typing import Any

import numpy as np
import pytest

import clr_spec
from clr_spec import cli

from ._frameworks import HAS_TORCH, needs_torch, torch
from .test_conformance import ROWS, _optimizer

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

# Values a damaged file holds where a number, a flag or a list belongs.
ODD = st.one_of(
    st.sampled_from(
        [
            0,
            -1,
            1,
            2,
            10.7,
            -0.0,
            2**31,
            2**53,
            2**63,
            10**400,
            -(10**400),
            1e308,
            5e-324,
            float("nan"),
            float("inf"),
            -float("inf"),
            True,
            False,
            None,
            "",
            "x",
            "false",
            "1",
            [],
            {},
            [None],
            [[]],
            {"format": "clr.LinearSpec"},
        ]
    ),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5),
    st.lists(st.floats(allow_nan=False, allow_infinity=False, width=32), max_size=3),
)


def _paths(node: Any) -> list:
    """Every path where a value can be replaced, deleted or added (walked without recursion, not
    below 8 levels, and not into a container that contains itself)."""
    out, stack = [], [(node, (), frozenset())]
    while stack:
        here, prefix, above = stack.pop()
        out.append(prefix)
        if len(prefix) >= 8 or id(here) in above:
            continue
        items = here.items() if isinstance(here, dict) else enumerate(here) if isinstance(here, list) else ()
        stack.extend((value, prefix + (key,), above | {id(here)}) for key, value in items)
    return out


def _fingerprint(node: Any) -> list:
    """What a value holds, walked without recursion (a cycle marked, not followed): to check
    that a loader leaves its arguments as they were."""
    out, stack = [], [(node, frozenset())]
    while stack:
        here, above = stack.pop()
        if isinstance(here, (dict, list)):
            if id(here) in above:
                out.append("<cycle>")
                continue
            items = list(here.items()) if isinstance(here, dict) else list(enumerate(here))
            out.append((type(here).__name__, len(items), [repr(k) for k, _ in items]))
            stack.extend((value, above | {id(here)}) for _, value in items)
        else:
            out.append(repr(here))
    return out


def _dumps(doc: Any) -> Any:
    """The document as JSON text, or None where it has none (it contains itself, nests too deep)."""
    try:
        return json.dumps(doc)
    except (ValueError, TypeError, RecursionError):
        return None


def _at(node: Any, path: tuple) -> Any:
    for key in path:
        node = node[key]
    return node


@st.composite
def mutated(draw, seed: Any) -> Any:
    """``seed`` (JSON-like: dicts, lists, scalars) with one to three mutations."""
    doc = copy.deepcopy(seed)
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(doc)
        path = draw(st.sampled_from(paths))
        kind = draw(st.sampled_from(["replace", "delete", "add", "nest", "self"]))
        if not path:
            if kind == "nest":
                doc = [doc] if draw(st.booleans()) else {"specs": [doc]}
            continue
        parent, key = _at(doc, path[:-1]), path[-1]
        if kind == "replace":
            parent[key] = draw(ODD)
        elif kind == "delete" and isinstance(parent, dict):
            del parent[key]
        elif kind == "add" and isinstance(parent, dict):
            parent[draw(st.sampled_from(["surprise", "lr", "version", "_schedulers", "max_lr"]))] = draw(ODD)
        elif kind == "nest":
            depth = draw(st.sampled_from([1, 2, 70, 2000]))
            value = parent[key]
            for _ in range(depth):
                value = [value]
            parent[key] = value
        elif kind == "self" and isinstance(parent, (dict, list)) and isinstance(doc, dict):
            parent[key] = doc  # a state that contains itself
    return doc


def _documents() -> list:
    out = []
    for cls in sorted(ROWS, key=lambda t: t.__name__):
        try:
            out.append(ROWS[cls].spec.to_dict())
        except ValueError:  # a spec holding a function has no JSON form
            continue
    return out


DOCUMENTS = _documents()


def _allowed(call, *args, **kwargs) -> Any:
    """Call a loader: a result, or a ValueError/TypeError (returned); anything else fails."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return call(*args, **kwargs)
    except (ValueError, TypeError) as err:
        return err


def _use(spec: Any) -> None:
    """A spec a loader accepted works: values, description, JSON round trip."""
    if isinstance(spec, Exception):
        return
    values = _allowed(spec.lr, [0, 1, 7, 1000])
    if not isinstance(values, Exception):
        assert np.all(np.isfinite(values)) and np.all(values >= 0)
    assert isinstance(spec.describe(), str)
    text = _allowed(spec.to_json)
    if isinstance(text, str):
        assert clr_spec.from_json(text) == spec


@settings(max_examples=400, **SETTINGS)
@given(st.data())
def test_mutated_documents_are_read_or_refused_clearly(data):
    seed = data.draw(st.sampled_from(DOCUMENTS))
    doc = data.draw(mutated(seed))
    before = _fingerprint(doc)
    _use(_allowed(clr_spec.from_dict, doc))
    assert _fingerprint(doc) == before, "from_dict changed its argument"
    text = _dumps(doc)
    if text is not None:
        _use(_allowed(clr_spec.from_json, text))
        cls = type(_allowed(clr_spec.from_dict, seed))
        _allowed(cls.from_json, text)  # the type's own loader too


def _states() -> list:
    """(torch class, state, optimizer state, from_torch keywords) of every conformance row."""
    if not HAS_TORCH:
        return []
    out = []
    for cls in sorted(ROWS, key=lambda t: t.__name__):
        row = ROWS[cls]
        opt = _optimizer()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sched = row.torch(opt)
        state = _plain(sched.state_dict())
        out.append((cls.TORCH_CLASS, state, _plain(opt.state_dict()), dict(row.from_torch_kwargs or {})))
    return out


def _plain(node: Any) -> Any:
    """A state as a checkpoint holds it, with tensors as their values (mutations replace those)."""
    if isinstance(node, dict):
        return {k: _plain(v) for k, v in node.items()}
    if isinstance(node, (list, tuple)):
        return [_plain(v) for v in node]
    if HAS_TORCH and isinstance(node, torch.Tensor):
        return node.tolist()
    return node


STATES = _states()


@needs_torch
@settings(max_examples=400, **SETTINGS)
@given(st.data())
def test_damaged_states_are_read_or_refused_clearly(data):
    name, state, optimizer_state, kwargs = data.draw(st.sampled_from(STATES))
    damaged = data.draw(mutated(state))
    optimizer = data.draw(st.one_of(st.just(optimizer_state).map(copy.deepcopy), mutated(optimizer_state)))
    before = _fingerprint([damaged, optimizer])
    _use(_allowed(clr_spec.from_torch, damaged, optimizer_state=optimizer, **kwargs))
    assert _fingerprint([damaged, optimizer]) == before, "from_torch changed its arguments"
    _use(_allowed(clr_spec.from_torch, damaged, optimizer_state=optimizer, torch_class=name, **kwargs))
    other = data.draw(st.sampled_from(sorted(clr_spec.torch_classes())))
    _use(_allowed(clr_spec.from_torch, damaged, optimizer_state=optimizer, torch_class=other))


def _cli(argv: list) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        status = cli.main(argv)
    return status, err.getvalue()


def _one_error_line(status: int, err: str, command: str) -> None:
    assert status in (0, 2), (status, err)
    if status == 2:
        assert err.count("\n") == 1 and err.startswith(f"clr {command}: error: "), err


@settings(max_examples=150, **SETTINGS)
@given(st.data())
def test_clr_show_of_mutated_files_exits_0_or_2_with_one_line(data):
    doc = data.draw(mutated(data.draw(st.sampled_from(DOCUMENTS))))
    text = _dumps(doc)
    if text is None:
        text = "{" + "[" * 3000  # not JSON at all
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "spec.json")
        with open(path, "w") as fh:
            fh.write(text)
        _one_error_line(*_cli(["show", path]), "show")


@needs_torch
@settings(max_examples=60, **SETTINGS)
@given(st.data())
def test_clr_from_torch_of_damaged_checkpoints_exits_0_or_2_with_one_line(data):
    _, state, optimizer_state, _ = data.draw(st.sampled_from(STATES))
    checkpoint = {"scheduler": data.draw(mutated(state)), "optimizer": optimizer_state}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "ckpt.pt")
        try:
            torch.save(checkpoint, path)
        except (RecursionError, ValueError, TypeError, OverflowError):
            return  # torch cannot write it: no such file exists
        _one_error_line(*_cli(["from-torch", path, "-o", os.path.join(tmp, "s.json")]), "from-torch")


def test_the_mutations_reach_every_kind():
    """The strategy is not vacuous: among its documents some are read and some are refused."""
    outcomes = set()

    @settings(max_examples=60, **SETTINGS)
    @given(mutated(DOCUMENTS[0]))
    def probe(doc):
        outcomes.add(type(_allowed(clr_spec.from_dict, doc)).__name__)

    probe()
    assert {"ValueError", "TypeError"} <= outcomes and len(outcomes) >= 3, outcomes
    assert math.isfinite(len(DOCUMENTS)) and len(DOCUMENTS) >= 6
