import torch


def decode(loc, priors, variances):
    """Decode SSD offsets against (cx, cy, w, h) priors; returns (xmin, ymin, xmax, ymax)."""
    boxes = torch.cat((
        priors[:, :2] + loc[:, :2] * variances[0] * priors[:, 2:],
        priors[:, 2:] * torch.exp(loc[:, 2:] * variances[1])), 1)
    return boxes


def center_to_corner_(boxes):
    boxes_new = boxes.clone()
    boxes_new[:, :2] -= boxes[:, 2:] / 2
    boxes = boxes_new
    boxes[:, 2:] += boxes[:, :2]
    return boxes


def giou_loss(pred, gt):
    lt = torch.max(pred[:, :2], gt[:, :2])
    rb = torch.min(pred[:, 2:], gt[:, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[:, 0] * wh[:, 1]
    area_p = (pred[:, 2] - pred[:, 0]) * (pred[:, 3] - pred[:, 1])
    area_g = (gt[:, 2] - gt[:, 0]) * (gt[:, 3] - gt[:, 1])
    union = area_p + area_g - inter
    iou = inter / union
    lt_c = torch.min(pred[:, :2], gt[:, :2])
    rb_c = torch.max(pred[:, 2:], gt[:, 2:])
    wh_c = (rb_c - lt_c).clamp(min=0)
    area_c = wh_c[:, 0] * wh_c[:, 1]
    return (1 - iou + (area_c - union) / area_c).mean()
