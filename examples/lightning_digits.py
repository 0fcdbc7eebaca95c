"""PyTorch Lightning: the digits MLP with ``clr_torch.CyclicLR`` stepped every batch, stopped
halfway, saved, and resumed from the Lightning checkpoint; every step's lr and momentum is
checked against the spec, and the spec is read back from the checkpoint.

    python examples/lightning_digits.py [--epochs 8] [--out-dir out]

``configure_optimizers`` returns the scheduler with ``"interval": "step"`` (Lightning's default
steps it once per epoch, which is not CLR). Lightning saves the scheduler's ``state_dict()``
under ``lr_schedulers`` and loads it back on ``fit(ckpt_path=...)``;
``clr_spec.CyclicSpec.from_torch(checkpoint["lr_schedulers"][0])`` or
``clr from-torch CHECKPOINT.ckpt -o spec.json`` read the spec from it. Needs pytorch-lightning
(``pip install 'clr-spec[examples,lightning]'``); takes about 10 seconds.
"""

from __future__ import annotations

import argparse
import os
import warnings

import numpy as np

import _digits as D
from clr_spec import CyclicSpec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--out-dir", default="out")
    args = parser.parse_args()

    import pytorch_lightning as pl
    import torch

    import clr_torch

    (x_train, y_train, x_test, y_test), per_epoch, spec, batches = D.resume_example(args.epochs)
    epoch = [(torch.from_numpy(x_train[idx]), torch.from_numpy(y_train[idx])) for idx in batches[:per_epoch]]
    loader = torch.utils.data.DataLoader(epoch, batch_size=None)  # the prepared batches, in order

    class Digits(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.net = D.torch_model(D.initial_params())
            self.seen = []

        def training_step(self, batch, batch_idx):
            group = self.optimizers().optimizer.param_groups[0]
            self.seen.append((self.global_step, group["lr"], group["momentum"]))
            x, y = batch
            return torch.nn.functional.cross_entropy(self.net(x), y)

        def configure_optimizers(self):
            opt = torch.optim.SGD(self.parameters(), lr=spec.base_lr, momentum=0.9)
            return {
                "optimizer": opt,
                "lr_scheduler": {"scheduler": clr_torch.CyclicLR.from_spec(opt, spec), "interval": "step"},
            }

    def trainer(max_steps: int):
        return pl.Trainer(
            max_steps=max_steps,
            accelerator="cpu",
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
        )

    total = args.epochs * per_epoch
    half = (args.epochs // 2) * per_epoch
    os.makedirs(args.out_dir, exist_ok=True)
    checkpoint = os.path.join(args.out_dir, "lightning_digits.ckpt")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Lightning's advice on DataLoader workers and the like
        first = Digits()
        trainer(half).fit(first, loader)
        first_trainer = first.trainer
        first_trainer.save_checkpoint(checkpoint)
        second = Digits()
        trainer(total).fit(second, loader, ckpt_path=checkpoint)

    seen = first.seen + second.seen
    steps = np.array([s for s, _, _ in seen])
    assert list(steps) == list(range(total)), steps
    lr_gap = np.abs(np.array([lr for _, lr, _ in seen]) - spec.lr(steps)).max()
    momentum_gap = np.abs(np.array([m for _, _, m in seen]) - spec.momentum(steps)).max()
    state = torch.load(checkpoint, weights_only=True)["lr_schedulers"][0]
    with torch.no_grad():
        accuracy = float((second.net(torch.from_numpy(x_test)).argmax(1).numpy() == y_test).mean())
    print(f"{total} steps, resumed from a Lightning checkpoint at step {half}")
    print(f"lr vs spec.lr: max difference {lr_gap:.1e}; momentum vs spec.momentum: {momentum_gap:.1e}")
    print(
        f"spec read from the checkpoint equals the spec: {CyclicSpec.from_torch(state) == spec}; "
        f"its last_epoch: {state['last_epoch']}"
    )
    print(f"checkpoint: {checkpoint}")
    print(f"test accuracy {accuracy:.3f}")


if __name__ == "__main__":
    main()
