# inplace-fix-expect: kind=saved-tensor-modified modified=detr_transformer.py:20 saved=detr_transformer.py:20 constructed=detr_transformer.py:9 rule=IPF004 fixable=yes
# pattern: relu_inplace_then_dropout_inplace (extra: the job chdirs into its run directory, then imports the model by name)
# Reproduces https://github.com/facebookresearch/3detr/issues/55 (ReluBackward0 "is at version 1",
# fixed by removing the Dropout layers' inplace=True): the encoder's FFN applies an in-place
# Dropout to the ReLU's output. As a hydra app with hydra.job.chdir=True does, the job runs
# inside a fresh run directory and only then builds the model from the config's `_target_`
# (hydra.utils.instantiate), so detr_transformer.py is imported after os.chdir.
import importlib
import json
import os
import tempfile

import torch
import torch.nn.functional as F

CONFIG_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "conf")


def instantiate(node):
    """Build `_target_` with the other keys as arguments (hydra.utils.instantiate)."""
    args = dict(node)
    module_name, _, attr = args.pop("_target_").rpartition(".")
    return getattr(importlib.import_module(module_name), attr)(**args)


def train(cfg):
    torch.manual_seed(0)
    model = instantiate(cfg["model"])
    optimizer = torch.optim.AdamW(model.parameters(), **cfg["optimizer"])
    points = torch.randn(4, 10, cfg["model"]["d_model"])
    target = points.norm(dim=-1).mean(-1, keepdim=True)
    for step in range(cfg["max_steps"]):
        optimizer.zero_grad()
        loss = F.smooth_l1_loss(model(points), target)
        print(f"step {step} loss {loss.item()!r}")
        loss.backward()
        optimizer.step()


def main():
    with open(os.path.join(CONFIG_DIR, "config.json")) as f:
        cfg = json.load(f)
    with tempfile.TemporaryDirectory(prefix=cfg["name"] + "-") as run_dir:
        os.chdir(run_dir)  # hydra.job.chdir=True: the job runs inside its output directory
        with open("config.json", "w") as f:
            json.dump(cfg, f)
        train(cfg)


if __name__ == "__main__":
    main()
