import torch.nn as nn
import torch.nn.functional as F

from conv_module import ConvModule
from registry import MODELS


@MODELS.register_module
class RPNHead(nn.Module):
    def __init__(self, in_channels, feat_channels=8, num_anchors=3, num_convs=1):
        super().__init__()
        self.num_convs = num_convs
        if num_convs > 1:
            rpn_convs = []
            for i in range(num_convs):
                chn = in_channels if i == 0 else feat_channels
                rpn_convs.append(ConvModule(chn, feat_channels, 3, padding=1, inplace=False))
            self.rpn_conv = nn.Sequential(*rpn_convs)
        else:
            self.rpn_conv = nn.Conv2d(in_channels, feat_channels, 3, padding=1)
        self.rpn_cls = nn.Conv2d(feat_channels, num_anchors, 1)
        self.rpn_reg = nn.Conv2d(feat_channels, num_anchors * 4, 1)

    def forward_single(self, x):
        x = self.rpn_conv(x)
        x = F.relu(x, inplace=True)
        return self.rpn_cls(x), self.rpn_reg(x)

    def forward(self, feats):
        return [self.forward_single(x) for x in feats]
