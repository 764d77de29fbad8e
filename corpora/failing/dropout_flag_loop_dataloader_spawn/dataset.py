import torch
from torch.utils.data import Dataset


class SaliencyPatches(Dataset):
    """Image / mask pairs drawn from a per-index generator, so every worker yields the same batch."""

    def __init__(self, length=12, size=8):
        self.length, self.size = length, size

    def __len__(self):
        return self.length

    def __getitem__(self, index):
        g = torch.Generator().manual_seed(1000 + index)
        image = torch.rand(3, self.size, self.size, generator=g)
        mask = (image.mean(0, keepdim=True) > 0.5).float()
        return image, mask
