"""What the static tests share: a small module with one finding of each common rule."""

NET = (
    "import torch.nn as nn\n"
    "import torch.nn.functional as F\n"
    "\n"
    "net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(inplace=True))\n"
    "\n"
    "\n"
    "def forward(a):\n"
    "    x = a * 2\n"
    "    x = F.relu(x, inplace=True)\n"
    "    return x\n"
)
