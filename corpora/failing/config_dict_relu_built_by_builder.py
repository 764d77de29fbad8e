# inplace-fix-expect: kind=saved-tensor-modified modified=28 saved=27 constructed=16 rule=IPF004 fixable=yes fix=IPF004@20
# pattern: config_dict_relu_built_by_builder (extra: mmcv/mmdet-style activation config dict built by a registry builder)
# The block builds its activation from a config dict through a registry, so the module is
# constructed inside the builder (`cls(**cfg)`); the flag lives in the `def` line's default
# config. Sigmoid saved its output for backward and the in-place ReLU overwrites it.
import torch
import torch.nn as nn
import torch.nn.functional as F

ACTIVATIONS = {"ReLU": nn.ReLU, "GELU": nn.GELU, "SiLU": nn.SiLU}


def build_activation(cfg):
    cfg = dict(cfg)
    layer = ACTIVATIONS[cfg.pop("type")]
    return layer(**cfg)


class GatedBlock(nn.Module):
    def __init__(self, cin, cout, act_cfg=dict(type="ReLU", inplace=True)):
        super().__init__()
        self.fc = nn.Linear(cin, cout)
        self.act = build_activation(act_cfg)
        self.head = nn.Linear(cout, 3)

    def forward(self, x):
        gate = torch.sigmoid(self.fc(x))
        return self.head(self.act(gate))


def main():
    torch.manual_seed(0)
    model = GatedBlock(6, 8)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.randn(5, 6)
    y = torch.randint(0, 3, (5,))
    for step in range(3):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y)
        print(f"step {step} loss {loss.item()!r}")
        loss.backward()
        opt.step()


if __name__ == "__main__":
    main()
