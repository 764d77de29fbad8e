from importlib import import_module

import torch.nn as nn


class Model(nn.Module):
    """Builds the network a config names: `model` is the module that holds its make_model."""

    def __init__(self, args):
        super(Model, self).__init__()
        print('Making model...')
        self.scale = args['scale']
        module = import_module(args['model'].lower())
        self.model = module.make_model(args)

    def forward(self, x, idx_scale):
        self.idx_scale = idx_scale
        return self.model(x)
