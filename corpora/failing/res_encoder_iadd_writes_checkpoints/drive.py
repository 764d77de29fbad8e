import torch
from torch.utils.data import Dataset


class Data(Dataset):
    """Retina crops and vessel masks, generated per index (the same in every worker)."""

    def __init__(self, length=4, size=16, train=True):
        self.length, self.size, self.offset = length, size, 0 if train else 500

    def __len__(self):
        return self.length

    def __getitem__(self, index):
        g = torch.Generator().manual_seed(self.offset + index)
        image = torch.rand(3, self.size, self.size, generator=g)
        label = (image[1:2] > 0.6).float()
        return image, label
