import torch.nn as nn

from registry import MODELS


@MODELS.register_module
class ConvModule(nn.Module):
    """conv -> activation, as mmcv builds it from act_cfg."""

    def __init__(self, in_channels, out_channels, kernel_size, padding=0, inplace=False):
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=padding)
        self.activate = nn.ReLU(inplace=inplace)

    def forward(self, x):
        return self.activate(self.conv(x))
