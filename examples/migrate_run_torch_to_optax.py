"""Move a whole training run from torch to optax and back: parameters, optimizer state, step.

A 64-64-10 MLP on scikit-learn's digits, two torch param groups (hidden layer with weight
decay, output layer without; their own lr bounds), SGD with Nesterov momentum and
clr_torch.CyclicLR (momentum cycled too).

1. Train in torch for --switch-at steps; torch.save the model, optimizer and scheduler.
2. One call, clr_optax.resume_from_torch_checkpoint, makes the optax run: Flax-layout
   params (kernels are torch's weights transposed), the spec and step from the scheduler,
   one clr_optax.sgd per torch group (optax.multi_transform), its state with torch's momentum
   buffers, has_buffer flags and count. Continue in optax to --back-at.
3. One call each way back: clr_optax.torch_checkpoint_from_optax (numpy, torch-free) and
   clr_torch.resume_from_optax (parameters, optimizer state, scheduler at the step).
   Continue in torch to --steps.
4. Compare the parameters with an uninterrupted torch run, relative to one step's change.

With ``--orbax DIR`` (needs ``pip install 'clr-spec[orbax]'``) both moves go through an Orbax
checkpoint in DIR, as a JAX loop would keep them: clr_optax.save_orbax / load_orbax, and
clr_optax.torch_checkpoint_from_orbax on the way back (``clr migrate`` does the same from the
command line, with torch's parameter names as the params' keys).

    python examples/migrate_run_torch_to_optax.py [--switch-at K] [--back-at M] [--steps N] [--orbax DIR]
"""

from __future__ import annotations

import argparse
import os
import tempfile

import jax
import jax.numpy as jnp
import numpy as np
import optax
import torch

import _digits
import clr_optax
import clr_torch
from clr_spec import CyclicSpec

SPEC = CyclicSpec(
    base_lr=[0.01, 0.005],
    max_lr=[0.1, 0.05],
    step_size_up=40,
    step_size_down=60,
    mode="triangular2",
    base_momentum=0.85,
    max_momentum=0.95,
)
# torch names -> Flax-style paths, and the layout change (Linear.weight is Dense.kernel transposed)
PATHS = {
    "hidden.weight": "hidden/kernel",
    "hidden.bias": "hidden/bias",
    "out.weight": "out/kernel",
    "out.bias": "out/bias",
}
TRANSFORMS = {"hidden.weight": "transpose", "out.weight": "transpose"}


def torch_run():
    model = _digits.torch_model(_digits.initial_params())
    opt = torch.optim.SGD(
        [{"params": model.hidden.parameters(), "weight_decay": 5e-4}, {"params": model.out.parameters()}],
        lr=0.1,
        momentum=0.9,
        nesterov=True,
    )
    return model, opt, clr_torch.CyclicLR.from_spec(opt, SPEC)


def torch_train(model, opt, sched, x, y, batches):
    for idx in batches:
        loss = torch.nn.functional.cross_entropy(model(torch.from_numpy(x[idx])), torch.from_numpy(y[idx]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()


def flax_loss(params, x, y):
    hidden = jnp.maximum(x @ params["hidden"]["kernel"] + params["hidden"]["bias"], 0)
    logits = hidden @ params["out"]["kernel"] + params["out"]["bias"]
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()


def flax_template():
    """The optax params' structure, shapes and dtypes (values are replaced by the checkpoint's)."""
    return {
        "hidden": {"kernel": jnp.zeros((64, _digits.HIDDEN)), "bias": jnp.zeros(_digits.HIDDEN)},
        "out": {"kernel": jnp.zeros((_digits.HIDDEN, 10)), "bias": jnp.zeros(10)},
    }


def snapshot(model):
    return {k: v.detach().numpy().copy() for k, v in model.state_dict().items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--switch-at", type=int, default=137, help="step at which the run moves to optax")
    parser.add_argument("--back-at", type=int, default=311, help="step at which it moves back to torch")
    parser.add_argument("--steps", type=int, default=460, help="total steps")
    parser.add_argument("--orbax", metavar="DIR", help="move through Orbax checkpoints in DIR (a CheckpointManager's)")
    args = parser.parse_args()
    if not 0 < args.switch_at < args.back_at < args.steps:
        parser.error("need 0 < --switch-at < --back-at < --steps")
    torch.set_num_threads(1)  # a tiny model: threads only add overhead
    x, y, _, _ = _digits.load()
    per_epoch = _digits.steps_per_epoch(len(x))
    batches = _digits.batch_order(len(x), -(-args.steps // per_epoch))[: args.steps]

    # the reference: torch, uninterrupted
    model, opt, sched = torch_run()
    torch_train(model, opt, sched, x, y, batches[:-1])
    before_last = snapshot(model)
    torch_train(model, opt, sched, x, y, batches[-1:])
    reference = snapshot(model)

    # 1. torch, then a checkpoint
    model, opt, sched = torch_run()
    torch_train(model, opt, sched, x, y, batches[: args.switch_at])
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "run.pt")
        torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict()}, path)
        ckpt = torch.load(path, weights_only=True)

    # 2. torch -> optax, one call
    mapping = clr_optax.param_mapping(list(ckpt["model"].items()), flax_template(), paths=PATHS, transforms=TRANSFORMS)
    run = clr_optax.resume_from_torch_checkpoint(ckpt, flax_template(), mapping=mapping)
    if args.orbax:  # the JAX side as an Orbax checkpoint, and read back
        clr_optax.save_orbax(
            args.orbax,
            run.params,
            run.opt_state,
            run.spec,
            optimizer=list(run.configs),
            mapping=mapping,
            labels=run.labels,
            overwrite=True,
        )
        loaded = clr_optax.load_orbax(args.orbax, step=run.step)
        run = run._replace(params=loaded.params, tx=loaded.tx, opt_state=loaded.opt_state)
        print(f"wrote and read the Orbax checkpoint {args.orbax}/{run.step}")
    decays = [c.torch_hyperparams()["weight_decay"] for c in run.configs]
    flags = [bool(s.inner_state.inner_state.has_buffer) for s in run.opt_state.inner_states.values()]
    count = int(run.opt_state.inner_states["group0"].inner_state.count)
    print(
        f"moved to optax at step {run.step}: one clr_optax.{run.configs[0].kind} per torch group "
        f"(weight_decay {decays}), torch's momentum buffers, has_buffer {flags}, count {count}"
    )

    @jax.jit
    def step(params, state, idx):
        grads = jax.grad(flax_loss)(params, jnp.asarray(x)[idx], jnp.asarray(y)[idx])
        updates, state = run.tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    params, state = run.params, run.opt_state
    for idx in batches[args.switch_at : args.back_at]:
        params, state = step(params, state, idx)

    # 3. optax -> torch, one call each side
    if args.orbax:
        clr_optax.save_orbax(
            args.orbax,
            params,
            state,
            run.spec,
            optimizer=list(run.configs),
            mapping=mapping,
            labels=run.labels,
            overwrite=True,
        )
        numpy_ckpt = clr_optax.torch_checkpoint_from_orbax(args.orbax, step=args.back_at)
    else:
        numpy_ckpt = clr_optax.torch_checkpoint_from_optax(
            params, state, run.spec, mapping=mapping, optimizer=list(run.configs)
        )
    model, opt, _ = torch_run()
    sched = clr_torch.resume_from_optax(model, opt, numpy_ckpt)
    print(f"back in torch at step {numpy_ckpt['step']}: next lr {[g['lr'] for g in opt.param_groups]}")
    torch_train(model, opt, sched, x, y, batches[args.back_at :])

    # 4. against the uninterrupted run
    final = snapshot(model)
    gap = max(float(np.max(np.abs(final[k] - reference[k]))) for k in reference)
    one_step = max(float(np.max(np.abs(reference[k] - before_last[k]))) for k in reference)
    print(
        f"after {args.steps} steps (torch -> optax at {args.switch_at} -> torch at {args.back_at}): parameters "
        f"differ from the uninterrupted torch run by {gap:.1e}, {gap / one_step:.1e} of one step's change "
        f"({one_step:.1e})"
    )


if __name__ == "__main__":
    main()
