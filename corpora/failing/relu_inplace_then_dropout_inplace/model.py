import torch.nn as nn


class MLPHead(nn.Module):
    """Linear -> ReLU -> Dropout -> Linear, both activations in place to save memory."""

    def __init__(self, d_in, d_hidden, d_out):
        super().__init__()
        self.fc1 = nn.Linear(d_in, d_hidden)
        self.act = nn.ReLU(inplace=True)
        self.drop = nn.Dropout(0.5, inplace=True)
        self.fc2 = nn.Linear(d_hidden, d_out)

    def forward(self, x):
        h = self.act(self.fc1(x))
        h = self.drop(h)
        return self.fc2(h)
