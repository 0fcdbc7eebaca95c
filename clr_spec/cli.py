"""The ``clr`` command line: inspect, plot and check a JSON spec; extract one from a torch checkpoint.

    clr show SPEC.json
    clr plot SPEC.json -o lr.png [--steps N]
    clr check SPEC.json [--steps N]
    clr from-torch CHECKPOINT.pt -o SPEC.json [--key scheduler]

Exit status: 0 on success, 1 when ``check`` finds the precision bound broken, 2 for bad
arguments or files. torch, jax and matplotlib are imported only by the commands that need them.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any, Optional, Sequence

import numpy as np

from ._requirements import require
from ._spec import CyclicSpec


class UsageError(Exception):
    """A bad file or argument: reported on stderr with exit status 2."""


def _load_spec(path: str) -> CyclicSpec:
    try:
        with open(path) as fh:
            text = fh.read()
    except OSError as err:
        raise UsageError(f"cannot read spec file {path!r}: {err.strerror or err}") from err
    try:
        return CyclicSpec.from_json(text)
    except json.JSONDecodeError as err:
        raise UsageError(f"{path}: not valid JSON ({err.msg} at line {err.lineno}, column {err.colno})") from err
    except (TypeError, ValueError) as err:
        raise UsageError(f"{path}: invalid spec: {err}") from err


def _need(module: str, extra: str):
    try:
        return require(module, extra, "this command")
    except ImportError as err:
        raise UsageError(str(err)) from err


def _default_steps(spec: CyclicSpec) -> int:
    return int(min(max(3 * spec.total_size, 100), 1_000_000))


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if not 2 <= value <= 2**31 - 1:
        raise argparse.ArgumentTypeError(f"expected an integer in [2, 2**31 - 1], got {value}")
    return value


# ------------------------------------------------------------------------------ show
def cmd_show(args: argparse.Namespace) -> int:
    spec = _load_spec(args.spec)
    total, ratio = spec.total_size, spec.step_ratio
    up = float(spec.step_size_up)
    print(f"spec: {args.spec}")
    for key, value in spec.to_dict().items():
        if key not in ("format", "version"):
            print(f"  {key:15} {value}")
    print(f"cycle length:     {_fmt(total)} steps ({_fmt(up)} up, {_fmt(total - up)} down; "
          f"ratio {ratio:.6g})")
    print("amplitude scale:  " + {"triangular": "1 (every cycle alike)",
                                   "triangular2": "halves every cycle: 2**-(cycle-1)",
                                   "exp_range": f"gamma**step = {spec.gamma}**step"}[spec.mode])
    groups = spec.num_groups or 1
    for g in range(groups):
        base, top, low, high = spec.group_bounds(g)
        label = f"group {g}: " if groups > 1 else ""
        momentum = f", momentum {high} -> {low}" if spec.cycle_momentum else ", momentum not cycled"
        print(f"{label}lr {base} -> {top}{momentum}")
    print("first cycles (step: lr of group 0):")
    for n in range(3):
        trough, peak = n * total, n * total + up
        print(f"  cycle {n + 1}: trough at step {_fmt(trough)} (lr {_lr_at(spec, trough)}), "
              f"peak at step {_fmt(peak)} (lr {_lr_at(spec, peak)})")
    return 0


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:.6g}"


def _lr_at(spec: CyclicSpec, step: float) -> str:
    if float(step).is_integer():
        return f"{float(spec.lr(int(step))):.6g}"
    lo, hi = math.floor(step), math.ceil(step)
    return f"between steps {lo} and {hi}: {float(spec.lr(lo)):.6g}, {float(spec.lr(hi)):.6g}"


# ------------------------------------------------------------------------------ check / plot
def _trajectories(spec: CyclicSpec, steps: int) -> dict[str, np.ndarray]:
    """torch's own CyclicLR (stepped in a loop) and clr_optax in float32, for group 0."""
    torch = _need("torch", "torch")
    _need("jax", "jax")
    import warnings

    import jax
    import jax.numpy as jnp

    import clr_optax

    param = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([param], lr=0.1, momentum=0.9)
    kwargs = spec.torch_kwargs()
    for k in ("base_lr", "max_lr", "base_momentum", "max_momentum"):
        if isinstance(kwargs[k], list):
            kwargs[k] = kwargs[k][0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sched = torch.optim.lr_scheduler.CyclicLR(opt, **kwargs)
        opt._opt_called = True
        lr, mom = np.empty(steps), np.empty(steps)
        for k in range(steps):
            try:
                lr[k], mom[k] = opt.param_groups[0]["lr"], opt.param_groups[0]["momentum"]
                sched.step()
            except OverflowError:   # torch's triangular2 past ~1024 cycles
                lr[k:], mom[k:] = np.nan, np.nan
                break
    counts = jnp.arange(steps, dtype=jnp.int32)
    out = {"torch lr": lr, "torch momentum": mom,
           "optax lr": np.asarray(jax.jit(clr_optax.cyclic_lr_schedule(spec))(counts)),
           "optax momentum": np.asarray(jax.jit(clr_optax.cyclic_momentum_schedule(spec))(counts))}
    return out


def _ulps(ours: np.ndarray, reference: np.ndarray) -> np.ndarray:
    ref = np.asarray(reference, np.float32).copy()
    ref[np.abs(ref) < np.finfo(np.float32).tiny] = 0.0   # XLA flushes subnormals

    def ordered(x):
        i = np.asarray(x, np.float32).view(np.int32).astype(np.int64)
        return np.where(i < 0, -(i & 0x7FFFFFFF), i)

    return np.abs(ordered(ours) - ordered(ref))


def cmd_check(args: argparse.Namespace) -> int:
    spec = _load_spec(args.spec)
    steps = args.steps or _default_steps(spec)
    t = _trajectories(spec, steps)
    status = 0
    values = ["lr", "momentum"] if spec.cycle_momentum else ["lr"]
    print(f"{args.spec}: torch's CyclicLR vs clr_optax (float32), steps 0..{steps - 1}")
    for what in values:
        ref = t[f"torch {what}"]
        valid = ~np.isnan(ref)
        d = _ulps(t[f"optax {what}"][valid], ref[valid])
        worst, exact = int(d.max(initial=0)), float(np.mean(d == 0)) if d.size else 1.0
        ok = worst <= 1 and exact >= 0.99
        status = status or (0 if ok else 1)
        skipped = f" ({int((~valid).sum())} steps past torch's OverflowError skipped)" if (~valid).any() else ""
        print(f"  {what:9} worst {worst} ulp, exact on {100 * exact:.2f}% of steps: "
              f"{'OK' if ok else 'FAILS the bound (<= 1 ulp, >= 99% exact)'}{skipped}")
    return status


def cmd_plot(args: argparse.Namespace) -> int:
    spec = _load_spec(args.spec)
    steps = args.steps or _default_steps(spec)
    _need("matplotlib", "plot")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = _trajectories(spec, steps)
    x = np.arange(steps)
    panels = ["lr", "momentum"] if spec.cycle_momentum else ["lr"]
    fig, axes = plt.subplots(len(panels) + 1, 1, figsize=(10, 3 + 2.2 * len(panels)), sharex=True)
    for ax, what in zip(axes, panels):
        ax.plot(x, t[f"torch {what}"], lw=3, color="tab:orange", label=f"torch CyclicLR {what} (float64)")
        ax.plot(x, t[f"optax {what}"], lw=1, color="tab:blue", label=f"clr_optax {what} (float32)")
        ax.set_ylabel(what)
        ax.legend(loc="upper right")
    for what, color in zip(panels, ("tab:blue", "tab:green")):
        ref = t[f"torch {what}"]
        valid = ~np.isnan(ref)
        axes[-1].plot(x[valid], _ulps(t[f"optax {what}"][valid], ref[valid]), lw=1, color=color, label=what)
    axes[-1].set_ylabel("ulps (optax vs torch)")
    axes[-1].set_xlabel("optimizer step")
    axes[-1].legend(loc="upper right")
    axes[0].set_title(f"{args.spec}: mode={spec.mode}, cycle of {_fmt(spec.total_size)} steps")
    fig.tight_layout()
    try:
        fig.savefig(args.output, dpi=110)
    except (OSError, ValueError) as err:
        raise UsageError(f"cannot write {args.output!r}: {err}") from err
    print(f"wrote {args.output} ({steps} steps)")
    return 0


# ------------------------------------------------------------------------------ from-torch
def _find_state(obj: Any, key: Optional[str], path: str) -> dict:
    def is_cyclic(d: Any) -> bool:
        return isinstance(d, dict) and "total_size" in d and "step_ratio" in d and "base_lrs" in d

    if key is not None:
        if not isinstance(obj, dict) or key not in obj:
            keys = sorted(obj) if isinstance(obj, dict) else []
            raise UsageError(f"{path}: no key {key!r} in the checkpoint (top-level keys: {keys})")
        if not is_cyclic(obj[key]):
            raise UsageError(f"{path}: {key!r} is not a CyclicLR state_dict")
        return obj[key]
    if is_cyclic(obj):
        return obj
    if isinstance(obj, dict):
        found = [k for k, v in obj.items() if is_cyclic(v)]
        if len(found) == 1:
            return obj[found[0]]
        if len(found) > 1:
            raise UsageError(f"{path}: several CyclicLR states ({found}); pick one with --key")
        raise UsageError(f"{path}: no CyclicLR state in the checkpoint (top-level keys: {sorted(map(str, obj))})")
    raise UsageError(f"{path}: no CyclicLR state in the checkpoint (it holds a {type(obj).__name__})")


def cmd_from_torch(args: argparse.Namespace) -> int:
    torch = _need("torch", "torch")
    try:
        obj = torch.load(args.checkpoint, map_location="cpu", weights_only=True)
    except FileNotFoundError as err:
        raise UsageError(f"cannot read checkpoint {args.checkpoint!r}: no such file") from err
    except Exception as err:  # noqa: BLE001 - torch raises many kinds for unreadable files
        raise UsageError(f"cannot load {args.checkpoint!r} safely (weights_only=True): "
                         f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}") from err
    state = _find_state(obj, args.key, args.checkpoint)
    try:
        spec = CyclicSpec.from_torch(state)
    except (TypeError, ValueError) as err:
        raise UsageError(f"{args.checkpoint}: {err}") from err
    step = int(state.get("last_epoch", 0))
    try:
        with open(args.output, "w") as fh:
            fh.write(spec.to_json(indent=2) + "\n")
    except OSError as err:
        raise UsageError(f"cannot write {args.output!r}: {err.strerror or err}") from err
    print(f"wrote {args.output}")
    print(f"step: {step}  (the next update uses lr({step}); resume with "
          f"CyclicLR.from_spec(opt, spec, step={step}) or clr_optax.set_count(state, {step}))")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clr", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    show = sub.add_parser("show", help="the spec, its cycle length, where peaks and troughs fall")
    show.add_argument("spec", metavar="SPEC.json")
    show.set_defaults(run=cmd_show)
    plot = sub.add_parser("plot", help="lr and momentum, torch and optax overlaid, with their ulp difference")
    plot.add_argument("spec", metavar="SPEC.json")
    plot.add_argument("-o", "--output", required=True, metavar="PNG")
    plot.add_argument("--steps", type=_positive_int, help="steps to plot (default: 3 cycles, at most 1e6)")
    plot.set_defaults(run=cmd_plot)
    check = sub.add_parser("check", help="run both frameworks; worst ulp and share of exact steps; "
                                         "exit 1 past the bound")
    check.add_argument("spec", metavar="SPEC.json")
    check.add_argument("--steps", type=_positive_int, help="steps to compare (default: 3 cycles, at most 1e6)")
    check.set_defaults(run=cmd_check)
    extract = sub.add_parser("from-torch", help="extract the spec and current step from a torch checkpoint")
    extract.add_argument("checkpoint", metavar="CHECKPOINT.pt")
    extract.add_argument("-o", "--output", required=True, metavar="SPEC.json")
    extract.add_argument("--key", help="the checkpoint's key holding the scheduler state (default: found)")
    extract.set_defaults(run=cmd_from_torch)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except UsageError as err:
        print(f"clr {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
