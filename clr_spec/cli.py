"""The ``clr`` command line: inspect, plot and check a JSON spec; extract one from a torch checkpoint.

Exit status: 0 on success, 1 when ``check`` finds the precision bound broken, 2 for bad
arguments or files (one line on stderr). torch, jax and matplotlib are imported only by the
commands that use them, and ``plot``/``check`` use whichever frameworks are installed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from typing import Any, Mapping, Optional, Sequence

import numpy as np

from . import __version__
from . import _validation as v
from ._family import (
    from_json,
    from_torch,
    spec_types,
    torch_candidates,
    torch_class_of,
    torch_classes,
    torch_runner,
    torch_tolerance,
)
from ._requirements import DISTRIBUTION, require

EVALUATOR_ENTRY_POINTS = "clr_spec.evaluators"


def _description() -> str:
    formats = "\n".join(f"  {t.FORMAT:26} {torch_runner(t)}" for t in sorted(spec_types(), key=lambda t: t.FORMAT))
    return f"""\
Cyclical learning rates, one spec for PyTorch and Optax.

A SPEC.json file is the JSON form of a clr_spec spec, as spec.to_json() writes it. A CyclicSpec:
  {{"format": "clr.CyclicSpec", "version": 1, "base_lr": 0.001, "max_lr": 0.006,
   "step_size_up": 2000, "step_size_down": 2000, "mode": "triangular", "gamma": 1.0,
   "scale_mode": "cycle", "cycle_momentum": true, "base_momentum": 0.8, "max_momentum": 0.9}}
with torch's CyclicLR keywords; lrs and momenta may be lists, one value per param group.
Every format ("format": its keywords are torch's, with "lr": the lr a phase scales):
{formats}
A SequentialSpec holds {{"specs": [...], "milestones": [...]}}.

exit status: 0 success, 1 check found the precision bound broken, 2 bad arguments or files."""


class UsageError(Exception):
    """A bad file or argument: reported on stderr in one line with exit status 2."""


def _load_spec(path: str) -> Any:
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as err:
        raise UsageError(f"cannot read spec file {path!r}: {err.strerror or err}") from err
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(
            f"{path}: not a JSON spec (binary data, not UTF-8 text); for a torch checkpoint "
            "use: clr from-torch CHECKPOINT -o SPEC.json"
        ) from None
    try:
        return from_json(text)
    except json.JSONDecodeError as err:
        raise UsageError(f"{path}: not valid JSON ({err.msg} at line {err.lineno}, column {err.colno})") from err
    except (TypeError, ValueError) as err:
        raise UsageError(f"{path}: invalid spec: {err}") from err


def _need(module: str, extra: str):
    try:
        return require(module, extra, "this command")
    except ImportError as err:
        raise UsageError(str(err)) from err


def _evaluators() -> dict[str, Any]:
    """The frameworks' evaluators that are installed and import (``clr_torch``'s torch reference,
    ``clr_optax``'s float32 schedules), found by entry point: clr_spec imports neither."""
    from importlib.metadata import entry_points

    found = {}
    for point in entry_points(group=EVALUATOR_ENTRY_POINTS):
        try:
            module = point.load()
        except ImportError:  # its framework is not installed
            continue
        found[module.NAME] = module
    return found


def _has_momentum(spec: Any) -> bool:
    """Whether the spec says what momentum is (it sets it, or a SequentialSpec was told it)."""
    try:
        spec.momentum(0)
    except ValueError:
        return False
    return True


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if not 2 <= value <= 2**31 - 1:
        raise argparse.ArgumentTypeError(f"expected an integer in [2, 2**31 - 1], got {value}")
    return value


MAX_CHECKED_GROUPS = 1000  # torch's optimizer takes time quadratic in its param groups to build


def _group_of(spec: Any, group: int) -> int:
    groups = spec.num_groups or 1
    if groups > MAX_CHECKED_GROUPS:
        raise UsageError(
            f"the spec has values for {groups} param groups; plot and check build torch's optimizer with "
            f"every one (torch's add_param_group is quadratic in them) and take at most "
            f"{MAX_CHECKED_GROUPS}: check a spec of the groups you need"
        )
    if not 0 <= group < groups:
        raise UsageError(
            f"--group must be in [0, {groups - 1}] (the spec has {groups} param group"
            f"{'s' if groups > 1 else ''}), got {group}"
        )
    return group


# ------------------------------------------------------------------------------ show
def cmd_show(args: argparse.Namespace) -> int:
    spec = _load_spec(args.spec)
    print(f"spec: {args.spec} ({type(spec).__name__}, {torch_runner(spec)})")
    print(f"schedule: {spec.describe()}")
    for line in spec.explain():
        print(line)
    _warn_past_end("show", spec, spec.default_steps())  # the steps plot and check look at by default
    return 0


# ------------------------------------------------------------------------------ check / plot
def _trajectories(spec: Any, steps: int, group: int = 0) -> dict[str, dict[str, np.ndarray]]:
    """Every evaluator installed, for one param group: ``{name: {"lr": ..., "momentum": ...}}``.

    clr_spec's float64 closed form is always there (for a CyclicSpec it is torch's arithmetic,
    bitwise); torch's own scheduler and clr_optax (float32) where their frameworks are installed."""
    k = np.arange(steps)
    ours = {"lr": spec.lr(k, group)}
    if _has_momentum(spec):
        ours["momentum"] = spec.momentum(k, group)
    out = {"clr_spec": ours}
    for name, evaluator in sorted(_evaluators().items()):
        out[name] = evaluator.trajectory(spec, steps, group)
    return out


# Steps evaluated at a time by check and plot: what check holds in memory does not grow with
# --steps (about 100 MB a chunk, every evaluator together), and the progress bar moves per chunk.
CHUNK_STEPS = 1 << 20
# What plot holds per step: every evaluator's lr and momentum, the ulp panel, and matplotlib's
# own float64 copies of each line (x and y); measured about 150 bytes, rounded up.
PLOT_BYTES_PER_STEP = 256


def _stream(spec: Any, steps: int, group: int, progress: bool) -> Any:
    """``(start, trajectories)`` for consecutive chunks of at most ``CHUNK_STEPS`` steps, each
    as ``_trajectories`` gives them (one chunk: ``_trajectories`` itself); a tqdm bar on stderr
    where ``progress``. An evaluator without ``trajectory_chunks`` is run once and cut."""
    if steps <= CHUNK_STEPS:
        yield 0, _trajectories(spec, steps, group)
        return
    from tqdm import tqdm

    pieces = {}
    for name, evaluator in sorted(_evaluators().items()):
        chunked = getattr(evaluator, "trajectory_chunks", None)
        pieces[name] = (
            chunked(spec, steps, group, CHUNK_STEPS)
            if chunked is not None
            else _cut(evaluator.trajectory(spec, steps, group), steps)
        )
    momentum = _has_momentum(spec)
    with tqdm(
        total=steps,
        unit="step",
        unit_scale=True,
        disable=not progress,
        file=sys.stderr,
        desc=f"clr: {', '.join(['clr_spec', *pieces])}",
        dynamic_ncols=True,
    ) as bar:
        for start in range(0, steps, CHUNK_STEPS):
            k = np.arange(start, min(start + CHUNK_STEPS, steps))
            ours = {"lr": spec.lr(k, group), **({"momentum": spec.momentum(k, group)} if momentum else {})}
            yield start, {"clr_spec": ours, **{name: next(piece) for name, piece in pieces.items()}}
            bar.update(len(k))


def _cut(whole: dict[str, np.ndarray], steps: int) -> Any:
    for start in range(0, steps, CHUNK_STEPS):
        yield {what: values[start : start + CHUNK_STEPS] for what, values in whole.items()}


def _progress(args: argparse.Namespace) -> bool:
    """--progress / --no-progress; by default a bar only where stderr is a terminal (pipes, logs
    and tests stay clean)."""
    return args.progress if args.progress is not None else sys.stderr.isatty()


def _warn_past_end(command: str, spec: Any, steps: int) -> None:
    """The spec's own warning for a run of ``steps`` steps past where it ends (a periodic
    cosine rising again), on stderr."""
    note = spec.past_end_note(steps)
    if note:
        print(f"clr {command}: warning: {note}", file=sys.stderr)


def _check_plot_fits(steps: int) -> None:
    """A plot holds every step of every line at once: refused up front, in one line, where that
    would not fit in the memory available (check needs no such limit: it runs in chunks)."""
    need, free = steps * PLOT_BYTES_PER_STEP, _available_bytes()
    if free is not None and need > free:
        raise UsageError(
            f"plotting {steps} steps needs about {need / 2**30:.1f} GiB ({PLOT_BYTES_PER_STEP} bytes a step, "
            f"every line held at once), and {free / 2**30:.1f} GiB is available: plot fewer --steps "
            "(clr check runs any count in bounded memory)"
        )


def _available_bytes() -> Optional[int]:
    """The memory free for this process (physical pages available), None where unknown."""
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES")) * int(os.sysconf("SC_PAGE_SIZE"))
    except (AttributeError, ValueError, OSError):
        return None


def _reference(t: dict[str, dict[str, np.ndarray]], what: str) -> tuple[str, np.ndarray]:
    """torch's own values where torch is installed, else clr_spec's (bitwise the same)."""
    name = "torch" if "torch" in t else "clr_spec"
    return name, t[name][what]


def _ulps(ours: np.ndarray, reference: np.ndarray) -> np.ndarray:
    ref = np.asarray(reference, np.float32).copy()
    ref[np.abs(ref) < np.finfo(np.float32).tiny] = 0.0  # XLA flushes subnormals

    def ordered(x):
        i = np.asarray(x, np.float32).view(np.int32).astype(np.int64)
        return np.where(i < 0, -(i & 0x7FFFFFFF), i)

    return np.abs(ordered(ours) - ordered(ref))


def cmd_check(args: argparse.Namespace) -> int:
    spec = _load_spec(args.spec)
    group = _group_of(spec, args.group)
    if not _evaluators():
        raise UsageError(
            "check compares frameworks, and neither torch nor jax is installed: "
            f"pip install '{DISTRIBUTION}[torch]' or '{DISTRIBUTION}[jax]'"
        )
    steps = args.steps or spec.default_steps()
    _warn_past_end("check", spec, steps)
    values = ["lr", "momentum"] if spec.sets_momentum else ["lr"]
    groups = spec.num_groups or 1
    where = f", param group {group} of {groups}" if groups > 1 else ""
    status = 0
    tally = {what: _Tally() for what in values}
    present: set = set()
    for start, t in _stream(spec, steps, group, _progress(args)):  # memory bounded by a chunk, not by steps
        present = set(t)
        for what in values:
            tally[what].add(spec, t, what, start, group)
    ref_name = "torch" if "torch" in present else "clr_spec"
    print(
        f"{args.spec}: steps 0..{steps - 1}{where}; reference: {ref_name}"
        + ("" if ref_name == "torch" else " (torch is not installed; clr_spec is torch's arithmetic, bitwise)")
    )
    for what in values:
        tl = tally[what]
        skipped = (
            f" ({tl.skipped} steps torch cannot give skipped: past its end or its OverflowError)" if tl.skipped else ""
        )
        if ref_name == "torch":
            if tl.equal:
                verdict = "bitwise equal"
            else:
                verdict = (
                    f"within {tl.worst_relative:.1e} relative"
                    + (
                        " (near 0 within the absolute bound)"
                        if tl.within and tl.worst_relative > v.RELATIVE_TOLERANCE
                        else ""
                    )
                    + (
                        ""
                        if tl.within
                        else " - FAILS the bound (1e-12 relative; near 0, 2**-50 (1 + step) of the peak)"
                    )
                )
                status = status or (0 if tl.within else 1)
            print(f"  {what:9} clr_spec (float64) vs torch: {verdict}{skipped}")
        if "clr_optax" in present:
            share = tl.exact / tl.compared if tl.compared else 1.0
            ok = tl.worst_ulps <= 1 and share >= 0.99
            status = status or (0 if ok else 1)
            print(
                f"  {what:9} clr_optax (float32) vs {ref_name}: worst {tl.worst_ulps} ulp, exact on {100 * share:.2f}% "
                f"of steps: {'OK' if ok else 'FAILS the bound (<= 1 ulp, >= 99% exact)'}{skipped}"
            )
    missing = [name for name, found in (("torch", "torch" in present), ("jax", "clr_optax" in present)) if not found]
    if missing:
        print(f"  not compared: {', '.join(missing)} (not installed)")
    return status


class _Tally:
    """What check reports of one value (lr or momentum), gathered chunk by chunk."""

    def __init__(self) -> None:
        self.skipped, self.equal, self.within, self.worst_relative = 0, True, True, 0.0
        self.worst_ulps, self.exact, self.compared = 0, 0, 0

    def add(self, spec: Any, t: dict, what: str, start: int, group: int) -> None:
        _, ref = _reference(t, what)
        valid = ~np.isnan(ref)
        self.skipped += int((~valid).sum())
        # torch steps LinearLR, CosineAnnealingLR, ... recursively: rounding apart from a closed
        # form, by at most the stated bound (1e-12 relative, plus 2**-50 (1 + k) of the peak, what
        # holds near 0 where a decay to 0 ends a rounding away from it, plus a recursion's drift).
        tolerance = torch_tolerance(spec, ref[valid], (start + np.arange(len(ref)))[valid], group)
        if "torch" in t:
            ours = t["clr_spec"][what][valid]
            if not np.array_equal(ours, ref[valid]):
                apart = np.abs(ours - ref[valid])
                self.equal = False
                self.worst_relative = max(
                    self.worst_relative, float(np.max(apart / np.maximum(np.abs(ref[valid]), 1e-300)))
                )
                self.within = self.within and bool(np.all(apart <= tolerance))
        if "clr_optax" in t:
            got = t["clr_optax"][what][valid]
            # A step within the reference's own float64 bound of it counts as exact (near 0 a float32
            # ulp is far below what torch's value is known to).
            d = np.where(np.abs(got.astype(np.float64) - ref[valid]) <= tolerance, 0, _ulps(got, ref[valid]))
            self.worst_ulps = max(self.worst_ulps, int(d.max(initial=0)))
            self.exact += int(np.sum(d == 0))
            self.compared += int(d.size)


def cmd_plot(args: argparse.Namespace) -> int:
    spec = _load_spec(args.spec)
    group = _group_of(spec, args.group)
    steps = args.steps or spec.default_steps()
    Figure = _need("matplotlib.figure", "plot").Figure
    _check_plot_fits(steps)
    _warn_past_end("plot", spec, steps)

    chunks = list(_stream(spec, steps, group, _progress(args)))
    t = (
        chunks[0][1]
        if len(chunks) == 1
        else {
            name: {what: np.concatenate([c[name][what] for _, c in chunks]) for what in chunks[0][1][name]}
            for name in chunks[0][1]
        }
    )
    del chunks
    x = np.arange(steps)
    panels = ["lr", "momentum"] if _has_momentum(spec) else ["lr"]
    compared: list[str] = [name for name in ("torch", "clr_optax") if name in t]
    fig = Figure(figsize=(10, 3 + 2.2 * len(panels) + (1.8 if "clr_optax" in t else 0)))
    axes = fig.subplots(len(panels) + ("clr_optax" in t), 1, sharex=True, squeeze=False)[:, 0]
    styles: dict[str, dict[str, Any]] = {
        "torch": dict(lw=3, color="tab:orange", label=f"{torch_runner(spec)} {{}} (float64)"),
        "clr_spec": dict(lw=1.5, color="tab:green", label="clr_spec {} (numpy float64)"),
        "clr_optax": dict(lw=1, color="tab:blue", label="clr_optax {} (float32)"),
    }
    for ax, what in zip(axes, panels):
        for name in ("torch", "clr_spec", "clr_optax"):
            if name in t and what in t[name]:
                style = dict(styles[name])
                ax.plot(x, t[name][what], **{**style, "label": style["label"].format(what)})
        ax.set_ylabel(what)
        ax.legend(loc="upper right")
    if "clr_optax" in t:
        ref_name, _ = _reference(t, "lr")
        for what, color in zip(panels, ("tab:blue", "tab:green")):
            _, ref = _reference(t, what)
            valid = ~np.isnan(ref)
            axes[-1].plot(x[valid], _ulps(t["clr_optax"][what][valid], ref[valid]), lw=1, color=color, label=what)
        axes[-1].set_ylabel(f"ulps (optax vs {ref_name})")
        axes[-1].legend(loc="upper right")
    axes[-1].set_xlabel("optimizer step")
    groups = spec.num_groups or 1
    title = f"{args.spec}: {type(spec).__name__}"
    for milestone, _ in spec.phases[1:]:
        for ax in axes:
            ax.axvline(milestone, color="0.6", ls=":", lw=1)
    axes[0].set_title(title + (f", param group {group} of {groups}" if groups > 1 else ""))
    fig.tight_layout()
    try:
        fig.savefig(args.output, dpi=110)
    except (OSError, ValueError) as err:
        raise UsageError(f"cannot write {args.output!r}: {err}") from err
    shown = ", ".join(["clr_spec"] + compared)
    print(f"wrote {args.output} ({steps} steps; {shown})")
    return 0


# ------------------------------------------------------------------------------ from-torch
def _is_schedule_state(d: Any) -> bool:
    """A scheduler's state: its keys are some registered class's (or several's: then the
    error that follows names them)."""
    return isinstance(d, dict) and all(isinstance(k, str) for k in d) and bool(torch_candidates(d))


def _schedule_states(obj: Any, path: str = "", depth: int = 0) -> list[tuple[str, dict]]:
    """Every scheduler state in a checkpoint, outermost first, with its key path
    (``lr_schedulers.0``, ``scheduler``): top level, under keys, in lists."""
    if _is_schedule_state(obj):
        return [(path, obj)]
    if depth > 6:
        return []
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, (list, tuple)) else ()
    found = []
    for key, value in items:
        if isinstance(value, (dict, list, tuple)):
            found += _schedule_states(value, f"{path}.{key}" if path else str(key), depth + 1)
    return found


def _at_path(obj: Any, key: str, where: str) -> Any:
    node = obj
    for i, part in enumerate(key.split(".")):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, (list, tuple)) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            here = ".".join(key.split(".")[:i]) or "the top level"
            keys = (
                sorted(map(str, node))
                if isinstance(node, dict)
                else (f"indices 0..{len(node) - 1}" if isinstance(node, (list, tuple)) else type(node).__name__)
            )
            raise UsageError(f"{where}: no key {part!r} at {here} (it has: {keys})")
    return node


def _find_state(obj: Any, key: Optional[str], where: str) -> tuple[str, dict]:
    if key is not None:
        state = _at_path(obj, key, where)
        if not _is_schedule_state(state):
            raise UsageError(f"{where}: {key!r} is not the state_dict of a scheduler clr knows")
        return key, state
    found = _schedule_states(obj)
    if len(found) == 1:
        return found[0]
    if len(found) > 1:
        raise UsageError(
            f"{where}: several scheduler states ({', '.join(p or '<top level>' for p, _ in found)}); "
            "pick one with --key"
        )
    keys = sorted(map(str, obj)) if isinstance(obj, dict) else type(obj).__name__
    raise UsageError(
        f"{where}: no scheduler state in the checkpoint (top-level keys: {keys}); "
        f"the states of {', '.join(torch_classes())} are read"
    )


def _optimizer_state(obj: Any) -> tuple[Optional[str], Optional[dict]]:
    """An optimizer state_dict next to the scheduler's (``optimizer``, Lightning's
    ``optimizer_states.0``): where no phase sets momentum, the spec takes the optimizer's."""
    for path in ("optimizer", "optimizer_states.0", "opt"):
        try:
            node = _at_path(obj, path, "")
        except UsageError:
            continue
        if isinstance(node, dict) and "param_groups" in node:
            return path, node
    return None, None


def _cyclic_phases(state: dict) -> list[dict]:
    if "_schedulers" in state:
        return [p for sub in state["_schedulers"] if isinstance(sub, dict) for p in _cyclic_phases(sub)]
    return [state] if torch_class_of(state) == "CyclicLR" else []


def _load_torch_checkpoint(torch: Any, checkpoint: str) -> Any:
    """``torch.load(checkpoint, weights_only=True)`` on the CPU, its failures as one line."""
    try:
        with warnings.catch_warnings():
            # torch warns about what it loads (a legacy pickle, ...): kept off stderr, where the one
            # line clr prints is its own (the error, if loading fails).
            warnings.simplefilter("ignore")
            return torch.load(checkpoint, map_location="cpu", weights_only=True)
    except FileNotFoundError as err:
        raise UsageError(f"cannot read checkpoint {checkpoint!r}: no such file") from err
    except Exception as err:  # noqa: BLE001 - torch raises many kinds for unreadable files
        first = str(err).splitlines()[0] if str(err) else ""
        raise UsageError(
            f"cannot load {checkpoint!r} safely (weights_only=True): {type(err).__name__}: {first}"
        ) from err


def _hf_arguments(pairs: Optional[Sequence[str]]) -> dict[str, Any]:
    """--hf-arg KEY=VALUE ...: each VALUE as JSON where it is (numbers, null, true), else a string."""
    out: dict[str, Any] = {}
    for pair in pairs or ():
        key, sep, text = pair.partition("=")
        if not sep or not key.isidentifier():
            raise UsageError(f"--hf-arg takes KEY=VALUE (a get_scheduler keyword), got {pair!r}")
        try:
            out[key] = json.loads(text)  # (NaN or Infinity: the spec refuses it, named)
        except ValueError:
            out[key] = text
    return out


def cmd_from_huggingface(args: argparse.Namespace, torch: Any) -> int:
    """from-torch of a Hugging Face Trainer checkpoint (a directory, or a scheduler.pt with --hf):
    the state holds no parameters, so they come from the options or the saved arguments."""
    from ._huggingface import trainer_checkpoint

    for option in ("warmup", "total"):
        value = getattr(args, option)
        if value is not None and value < 0:
            raise UsageError(f"--{option} must be an int >= 0, got {value}")
    try:
        spec, step, sources = trainer_checkpoint(
            args.checkpoint,
            lambda p: _load_torch_checkpoint(torch, p),
            args.hf,
            args.warmup,
            args.total,
            _hf_arguments(args.hf_arg),
        )
    except (TypeError, ValueError) as err:
        raise UsageError(f"{args.checkpoint}: {err}") from err
    _write_output(args.output, spec.to_json(indent=2))
    print(
        f"read the Hugging Face {getattr(spec, 'name', 'warmup_stable_decay')!r} schedule (LambdaLR state) from "
        f"{args.checkpoint}" + "".join(f"; {s}" for s in sources)
    )
    print(f"wrote {args.output}")
    _print_resume_step(step)
    return 0


def _write_output(path: str, text: str) -> None:
    """Write a spec document (``text``) to ``path``, its failure one line."""
    try:
        with open(path, "w") as fh:
            fh.write(text + "\n")
    except OSError as err:
        raise UsageError(f"cannot write {path!r}: {err.strerror or err}") from err


def _saved_step(checkpoint: str, state: Mapping) -> int:
    """The step a scheduler state is at (its ``last_epoch``; -1, before its first step, is 0)."""
    step = state.get("last_epoch", 0)
    if isinstance(step, bool) or not isinstance(step, int) or not -1 <= step < v.MAX_INT:
        raise UsageError(
            f"{checkpoint}: the scheduler state's last_epoch must be an int in [-1, 2**53), got {v.shown(step)}"
        )
    return max(step, 0)


def _print_resume_step(step: int) -> None:
    print(
        f"step: {step}  (the next update uses lr({step}); resume with "
        f"clr_torch.scheduler(opt, spec, step={step}) or clr_optax.set_count(state, {step}))"
    )


def cmd_from_torch(args: argparse.Namespace) -> int:
    torch = _need("torch", "torch")
    import os

    if args.hf is not None or os.path.isdir(args.checkpoint):
        return cmd_from_huggingface(args, torch)
    obj = _load_torch_checkpoint(torch, args.checkpoint)
    path, state = _find_state(obj, args.key, args.checkpoint)
    function = _imported_function(args.lr_lambda) if args.lr_lambda else None
    if len(torch_candidates(state)) > 1 and function is None:
        raise UsageError(
            f"{args.checkpoint}: a {' or '.join(torch_candidates(state))} state holds no function "
            "(torch saves none): pass it, --lr-lambda MODULE:NAME (or in Python "
            "clr_spec.from_torch(state, torch_class='LambdaLR', lr_lambda=fn)); a Hugging Face "
            "Trainer's scheduler.pt: --hf NAME --warmup N --total N, or the checkpoint directory"
        )
    if function is not None:
        return _from_torch_with_function(args, state, path, function)
    cyclic = _cyclic_phases(state)
    if any(isinstance(c.get("_scale_fn_custom"), dict) for c in cyclic):
        raise UsageError(
            f"{args.checkpoint}: this CyclicLR had a custom scale_fn (a callable object); torch "
            "saves its attributes, not its code, so no JSON spec can hold it. In Python: "
            "CyclicSpec.from_torch(state, scale_fn=your_function)"
        )
    optimizer_path, optimizer_state = _optimizer_state(obj)
    try:
        spec = from_torch(state, optimizer_state=optimizer_state)
    except (TypeError, ValueError) as err:
        raise UsageError(f"{args.checkpoint}: {err}") from err
    step = _saved_step(args.checkpoint, state)
    _write_output(args.output, spec.to_json(indent=2))
    print(
        f"read the {torch_class_of(state)} state at {path or 'the top level'}{'' if args.key else ' (found)'}"
        + (f", and the optimizer's at {optimizer_path}" if optimizer_path else "")
    )
    if any(c["mode"] == "triangular" and c["scale_mode"] == "cycle" for c in cyclic):
        print(
            "warning: torch does not save a custom scale_fn that is a function: if this scheduler was "
            "built with one (scale_mode='cycle'), this spec is plain triangular, not its schedule",
            file=sys.stderr,
        )
    print(f"wrote {args.output}")
    if spec.EVALUATOR == "plateau":  # its state is in the spec: no step to resume at
        print(
            "the spec carries the plateau's state (best, counters, lrs): resume with "
            "clr_torch.scheduler(opt, spec) or clr_optax.sgd(spec, ...) and update(..., value=metric)"
        )
    else:
        _print_resume_step(step)
    return 0


def _imported_function(reference: str) -> Any:
    """The function ``MODULE:NAME`` names (the module imported as ``python -m`` would, from the
    working directory first)."""
    import importlib
    import os

    module_name, sep, name = reference.partition(":")
    if not sep or not module_name or not name:
        raise UsageError(f"--lr-lambda must be MODULE:NAME (e.g. my_training.schedules:warmup), got {reference!r}")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except Exception as err:  # noqa: BLE001 - a user's module may raise anything while importing
        raise UsageError(f"--lr-lambda: cannot import {module_name!r} ({type(err).__name__}: {err})") from err
    function = module
    for part in name.split("."):
        if not hasattr(function, part):
            raise UsageError(f"--lr-lambda: {module_name!r} has no {name!r}")
        function = getattr(function, part)
    if not callable(function):
        raise UsageError(f"--lr-lambda: {reference} is a {type(function).__name__}, not a function")
    return function


def _from_torch_with_function(args: argparse.Namespace, state: dict, path: str, function: Any) -> int:
    """A LambdaLR or MultiplicativeLR state with the function it ran (``--lr-lambda``): the
    function checked against the lrs the state saved, the spec written without it (JSON holds no
    code), to be read back with the function given again."""
    candidates = torch_candidates(state)
    if not set(candidates) & {"LambdaLR", "MultiplicativeLR"}:
        raise UsageError(
            f"{args.checkpoint}: --lr-lambda is for a LambdaLR or MultiplicativeLR state; this is a "
            f"{' or '.join(candidates) or 'state of no known class'}"
        )
    torch_class = args.torch_class or "LambdaLR"
    extra = {"horizon": args.horizon} if torch_class == "MultiplicativeLR" and args.horizon is not None else {}
    try:
        spec = from_torch(state, torch_class=torch_class, lr_lambda=function, **extra)
        step = _saved_step(args.checkpoint, state)
        saved = state.get("_last_lr")
        if isinstance(saved, (list, tuple)) and spec.num_groups in (None, len(saved)):
            got = [float(spec.lr(step, g)) for g in range(len(saved))]
            if got != [float(x) for x in saved]:
                raise ValueError(
                    f"the function gives the lrs {got} at step {step}, where the checkpoint holds "
                    f"{list(saved)}: it is not the function this {torch_class} ran"
                )
        document = spec.to_dict_without_function()
    except (TypeError, ValueError) as err:
        raise UsageError(f"{args.checkpoint}: {err}") from err
    _write_output(args.output, json.dumps(document, indent=2))
    print(
        f"read the {torch_class} state at {path or 'the top level'}, with {args.lr_lambda}"
        + (" (checked against the lrs it saved)" if "_last_lr" in state else "")
    )
    print(
        f"wrote {args.output} (without the function: clr_spec.from_json(text, lr_lambda={args.lr_lambda.replace(':', '.')}))"
    )
    _print_resume_step(step)
    return 0


# ------------------------------------------------------------------------------ migrate
MIGRATE_NEEDS = f"Needs torch, jax/optax and orbax-checkpoint: pip install '{DISTRIBUTION}[torch,orbax]'."


def cmd_migrate(args: argparse.Namespace) -> int:
    torch = _need("torch", "torch")
    _need("optax", "jax")
    _need("orbax.checkpoint", "orbax")
    import clr_optax
    import clr_torch

    if args.direction == "torch-to-orbax":
        run = clr_optax.torch_to_orbax(
            _load_torch_checkpoint(torch, args.source), args.target, kind=args.optimizer, overwrite=args.force
        )
        kinds = ", ".join(f"{c.kind} (group {g})" for g, c in enumerate(run.configs))
        print(
            f"read {args.source}: {type(run.spec).__name__}, step {run.step}, {len(run.mapping)} parameters, "
            f"{kinds}" + (f", {len(run.model_keys or ()) - len(run.mapping)} buffers" if run.buffers else "")
        )
        print(
            f"wrote {args.target}/{run.step} (Orbax: params, opt_state, clr"
            + (", buffers" if run.buffers else "")
            + "); continue with clr_optax.load_orbax"
        )
        return 0
    numpy_checkpoint = clr_optax.torch_checkpoint_from_orbax(args.source, step=args.step)
    checkpoint = clr_torch.torch_checkpoint(numpy_checkpoint)
    try:
        torch.save(checkpoint, args.target)
    except OSError as err:
        raise UsageError(f"cannot write {args.target!r}: {err.strerror or err}") from err
    print(
        f"read {args.source} at step {checkpoint['step']}: {', '.join(numpy_checkpoint['optimizer_class'])}, "
        f"{len(checkpoint['model'])} model entries"
    )
    print(
        f"wrote {args.target} (model, optimizer, scheduler state dicts; spec; step): load them with "
        "model.load_state_dict, optimizer.load_state_dict, scheduler.load_state_dict"
    )
    return 0


def _migrate_parser(command: Any) -> None:
    migrate = command(
        "migrate",
        "move a whole run (parameters, optimizer state, schedule) between torch and Orbax",
        "torch-to-orbax: a torch.save checkpoint ({'model', 'optimizer', 'scheduler'} state dicts,\n"
        "or a Lightning checkpoint) as an Orbax CheckpointManager directory OUT_DIR/<step>: the\n"
        "params (a nested dict keyed by torch's parameter names, torch's layout), the optax\n"
        "state of clr_optax's sgd/adam/adamw/rmsprop with torch's buffers and count, the spec.\n"
        "orbax-to-torch: such a directory as a torch checkpoint of the model, optimizer and\n"
        "scheduler state dicts at the step. Torch's SGD, Adam, AdamW and RMSprop.\n" + MIGRATE_NEEDS,
    )
    ways = migrate.add_subparsers(dest="direction", required=True, metavar="DIRECTION")
    to_orbax = ways.add_parser(
        "torch-to-orbax",
        help="a torch or Lightning checkpoint to an Orbax checkpoint",
        description=f"Write a torch run as an Orbax checkpoint. {MIGRATE_NEEDS}",
    )
    to_orbax.add_argument("source", metavar="CHECKPOINT.pt")
    to_orbax.add_argument("target", metavar="OUT_DIR")
    to_orbax.add_argument(
        "--optimizer",
        choices=("sgd", "adam", "adamw", "rmsprop"),
        help="the torch optimizer, where its param groups do not say (Adam or AdamW before "
        "torch 2.6); each group is checked against it",
    )
    to_orbax.add_argument("--force", action="store_true", help="replace the step if OUT_DIR holds it already")
    to_torch = ways.add_parser(
        "orbax-to-torch",
        help="an Orbax checkpoint (clr's) to a torch checkpoint",
        description=f"Write an Orbax checkpoint of clr's as a torch checkpoint. {MIGRATE_NEEDS}",
    )
    to_torch.add_argument("source", metavar="ORBAX_DIR")
    to_torch.add_argument("target", metavar="OUT.pt")
    to_torch.add_argument("--step", type=int, help="the step to read (default: the latest)")
    migrate.set_defaults(run=cmd_migrate)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clr", description=_description(), formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"clr ({DISTRIBUTION}) {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, summary: str, details: str) -> argparse.ArgumentParser:
        return sub.add_parser(
            name,
            help=summary,
            description=f"{summary}.\n\n{details}",
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    show = command(
        "show",
        "print a spec: its values, and where its cycles, phases or milestones fall",
        "SPEC.json is a spec file (clr --help shows its format). Needs no framework.",
    )
    show.add_argument("spec", metavar="SPEC.json")
    show.set_defaults(run=cmd_show)
    groups_help = "param group to show, for specs with per-group values (default: 0)"
    plot = command(
        "plot",
        "plot lr and momentum step by step, from every framework installed",
        "Draws clr_spec's float64 closed form, torch's own scheduler if torch is installed and\n"
        "clr_optax's float32 schedule if jax is, with their distance in float32 ulps. Needs\n"
        f"matplotlib: pip install '{DISTRIBUTION}[plot]'.",
    )
    _spec_range_arguments(plot, "plot", groups_help)
    plot.add_argument("-o", "--output", required=True, metavar="PNG")
    plot.set_defaults(run=cmd_plot)
    check = command(
        "check",
        "compare the frameworks installed step by step; exit 1 past the precision bound",
        "Compares clr_spec (float64) with torch's own scheduler (bitwise for a CyclicSpec, 1e-12\n"
        "relative where torch steps recursively), and clr_optax's float32 schedule with\n"
        "float32(torch) (at most 1 ulp, exact on at least 99% of steps). Without torch the\n"
        "reference is clr_spec. Needs torch or jax.",
    )
    _spec_range_arguments(check, "compare", groups_help)
    check.set_defaults(run=cmd_check)
    extract = command(
        "from-torch",
        "write the spec and step of a torch scheduler saved in a checkpoint",
        "Finds the scheduler's state_dict in a torch.save file (loaded with weights_only=True)\n"
        "at the top level, under a key or in a Lightning checkpoint's lr_schedulers list; --key\n"
        "picks one by its path. Reads the states of:\n  " + ", ".join(torch_classes()) + ".\n"
        "The optimizer's state, where found, gives what torch keeps there (1cycle's bounds,\n"
        "the momentum of phases that leave it alone).",
    )
    extract.add_argument("checkpoint", metavar="CHECKPOINT.pt")
    extract.add_argument("-o", "--output", required=True, metavar="SPEC.json")
    extract.add_argument(
        "--key",
        help="path to the scheduler state, dots between keys and list indices "
        "(e.g. scheduler, lr_schedulers.0); default: found",
    )
    # A Hugging Face Trainer's scheduler.pt holds no parameters: they come from here, or from the
    # checkpoint directory's training_args.bin and trainer_state.json (read without running code).
    extract.add_argument(
        "--hf",
        metavar="NAME",
        help="a Hugging Face schedule (get_scheduler's name, e.g. cosine; default: the directory's training_args.bin)",
    )
    extract.add_argument("--warmup", type=int, help="--hf: num_warmup_steps (default: the saved arguments')")
    extract.add_argument("--total", type=int, help="--hf: num_training_steps (default: trainer_state.json's max_steps)")
    extract.add_argument(
        "--hf-arg",
        action="append",
        metavar="KEY=VALUE",
        help="--hf: a keyword of the schedule (num_cycles=0.5, min_lr_rate=0.1, ...), repeatable",
    )
    # A LambdaLR or MultiplicativeLR state holds no function: the user's, by its import path.
    extract.add_argument(
        "--lr-lambda",
        metavar="MODULE:NAME",
        help="the function a LambdaLR (or MultiplicativeLR) ran, e.g. my_train.schedules:warmup "
        "(imported from the working directory; the JSON is written without it)",
    )
    extract.add_argument(
        "--torch-class",
        choices=["LambdaLR", "MultiplicativeLR"],
        help="--lr-lambda: the class of the state (their states have the same keys; default LambdaLR)",
    )
    extract.add_argument(
        "--horizon", type=int, help="--lr-lambda with MultiplicativeLR: steps replayed (default 100000)"
    )
    extract.set_defaults(run=cmd_from_torch)
    _migrate_parser(command)
    return parser


def _spec_range_arguments(parser: argparse.ArgumentParser, verb: str, groups_help: str) -> None:
    """SPEC.json, --steps and --group, as plot and check take them."""
    parser.add_argument("spec", metavar="SPEC.json")
    parser.add_argument(
        "--steps", type=_positive_int, help=f"steps to {verb} (default: the spec's: 3 cycles, a phase twice)"
    )
    parser.add_argument("--group", type=int, default=0, help=groups_help)
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help=f"a progress bar on stderr for runs of more than {CHUNK_STEPS} steps (default: only "
        "when stderr is a terminal)",
    )


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except UsageError as err:
        print(f"clr {args.command}: error: {err}", file=sys.stderr)
        return 2
    except (ValueError, TypeError, OverflowError, RecursionError, MemoryError) as err:
        # The one error path for what a valid-looking input still cannot do (a value torch or
        # numpy refuses, a step count past what memory holds): one line, exit 2, no traceback.
        first = (str(err).splitlines() or [""])[0]
        print(f"clr {args.command}: error: {type(err).__name__}: {first}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
