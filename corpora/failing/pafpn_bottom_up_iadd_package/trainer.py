import torch
import torch.nn as nn
import torch.nn.functional as F

from .necks import PAFPN


class TinyBackbone(nn.Module):
    def __init__(self, channels=(4, 8, 16)):
        super().__init__()
        stages, prev = [], 3
        for c in channels:
            stages.append(nn.Sequential(nn.Conv2d(prev, c, 3, stride=2, padding=1), nn.ReLU()))
            prev = c
        self.stages = nn.ModuleList(stages)

    def forward(self, x):
        outs = []
        for stage in self.stages:
            x = stage(x)
            outs.append(x)
        return outs


class Trainer:
    """Builds backbone + neck + a 1x1 head and runs a few SGD iterations."""

    def __init__(self, act_cfg, lr=0.05):
        torch.manual_seed(0)
        self.backbone = TinyBackbone()
        self.neck = PAFPN([4, 8, 16], 8, act_cfg=act_cfg)
        self.head = nn.Conv2d(8, 1, 1)
        params = [*self.backbone.parameters(), *self.neck.parameters(), *self.head.parameters()]
        self.optimizer = torch.optim.SGD(params, lr=lr)

    def train_step(self, images, targets):
        self.optimizer.zero_grad()
        feats = self.neck(self.backbone(images))
        loss = sum(F.mse_loss(self.head(f), t) for f, t in zip(feats, targets))
        return loss

    def run(self, iters):
        g = torch.Generator().manual_seed(1)
        images = torch.randn(2, 3, 16, 16, generator=g)
        targets = [torch.rand(2, 1, s, s, generator=g) for s in (8, 4, 2)]
        for it in range(iters):
            loss = self.train_step(images, targets)
            print(f"step {it} loss {loss.item()!r}")
            loss.backward()
            self.optimizer.step()
