# inplace-fix-expect: kind=saved-tensor-modified modified=model.py:24 saved=model.py:24 constructed=model.py:19 rule=IPF004 fixable=yes fix=IPF004@model.py:36
# pattern: inplace_flag_set_after_construction_loop (extra: DataLoader with a spawned worker that imports the project's modules)
# Reproduces https://github.com/qianyu-dlut/MVANet/issues/2: the model flips every nn.ReLU and
# nn.Dropout to inplace after construction (model.py), and the dropout after the functional
# relu of `get_activation_fn("relu")` then overwrites the output relu saved for backward.
# The batches come from a DataLoader with num_workers=1 and the "spawn" context: the worker
# is a fresh interpreter that re-imports main.py, dataset.py and model.py from disk.
# cpu: 8
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from dataset import SaliencyPatches
from model import MiniMVANet


def main():
    torch.manual_seed(0)
    net = MiniMVANet()
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loader = DataLoader(SaliencyPatches(), batch_size=4, shuffle=False, num_workers=1,
                        multiprocessing_context="spawn")
    for step, (image, mask) in enumerate(loader):
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(net(image), mask)
        print(f"step {step} loss {loss.item()!r}")
        loss.backward()
        opt.step()


if __name__ == "__main__":
    main()
