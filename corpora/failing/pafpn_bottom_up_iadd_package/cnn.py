import torch.nn as nn


class ConvModule(nn.Module):
    """conv -> activation; `act_cfg=None` leaves the activation out."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, act_cfg=None):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding)
        self.activate = None
        if act_cfg is not None and act_cfg["type"] == "ReLU":
            self.activate = nn.ReLU()

    def forward(self, x):
        x = self.conv(x)
        if self.activate is not None:
            x = self.activate(x)
        return x
