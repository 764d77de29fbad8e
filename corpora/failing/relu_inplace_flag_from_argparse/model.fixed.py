import torch.nn as nn


class ValueHead(nn.Module):
    """Linear -> Tanh -> ReLU -> Linear; whether the ReLU runs in place is the caller's choice."""

    def __init__(self, d_in, d_out, inplace=True):
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(d_in, 16),
            nn.Tanh(),
            nn.ReLU(inplace=False),
            nn.Linear(16, d_out),
        )

    def forward(self, x):
        return self.body(x)
