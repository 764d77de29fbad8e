import torch
import torch.nn as nn

from box_utils import center_to_corner_, decode, giou_loss


class MultiBoxGIoULoss(nn.Module):
    """SSD box loss: GIoU on the decoded boxes plus a log-size prior on the decoded sizes."""

    def __init__(self, variances=(0.1, 0.2), size_weight=0.1):
        super().__init__()
        self.variances = variances
        self.size_weight = size_weight

    def forward(self, loc_p, priors, gt_boxes):
        decoded = decode(loc_p, priors, self.variances)
        size_term = (decoded[:, 2:].log() - priors[:, 2:].log()).pow(2).mean()
        decoded = center_to_corner_(decoded)
        return giou_loss(decoded, gt_boxes) + self.size_weight * size_term
