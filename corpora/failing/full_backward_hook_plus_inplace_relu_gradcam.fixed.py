# inplace-fix-expect: kind=view-modified modified=22 saved=- constructed=17 rule=IPF004 fixable=yes
# pattern: full_backward_hook_plus_inplace_relu_gradcam
# Grad-CAM registers a full backward hook on the last conv; the hook wraps the conv's
# output in a view, and the ReLU(inplace=True) that follows modifies that view.
import torch
import torch.nn as nn
import torch.nn.functional as F


class SmallCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(8, 8, 3, padding=1),
            nn.ReLU(),  # after conv2
        )
        self.fc = nn.Linear(8, 3)

    def forward(self, x):
        x = self.features(x)
        return self.fc(x.mean(dim=(2, 3)))


def main():
    torch.manual_seed(0)
    model = SmallCNN()
    cam_grads = []
    model.features[2].register_full_backward_hook(lambda m, gin, gout: cam_grads.append(gout[0]))
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    images = torch.randn(2, 3, 8, 8)
    labels = torch.tensor([0, 2])
    for step in range(3):
        opt.zero_grad()
        loss = F.cross_entropy(model(images), labels)
        print(f"step {step} loss {loss.item()!r}")
        loss.backward()
        opt.step()


if __name__ == "__main__":
    main()
