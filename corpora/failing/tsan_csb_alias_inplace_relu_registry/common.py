import torch.nn as nn


def default_conv(in_channels, out_channels, kernel_size, bias=True):
    return nn.Conv2d(in_channels, out_channels, kernel_size, padding=(kernel_size // 2), bias=bias)


class Upsampler(nn.Sequential):
    def __init__(self, conv, scale, n_feats):
        super(Upsampler, self).__init__(conv(n_feats, 4 * n_feats, 3), nn.PixelShuffle(scale))
