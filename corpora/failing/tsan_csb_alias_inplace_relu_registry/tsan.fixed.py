import common
import torch
import torch.nn as nn


def make_model(args, parent=False):
    return TSAN(args)


class make_dense(nn.Module):
    def __init__(self, n_channels, n_feats=8):
        super(make_dense, self).__init__()
        self.conv_1_1 = nn.Conv2d(n_channels, n_feats, 1, padding=0, stride=1)
        self.conv_3_1 = nn.Conv2d(n_feats, n_feats, 3, padding=1, stride=1)
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x):
        out1x1 = self.relu(self.conv_1_1(x.clone()))
        output = self.relu(self.conv_3_1(out1x1))
        return torch.cat([output, x], 1)


class DRB(nn.Module):
    def __init__(self, n_channels, n_denselayer=2, n_feats=8):
        super(DRB, self).__init__()
        modules = []
        for i in range(n_denselayer):
            modules.append(make_dense(n_channels + i * n_feats, n_feats))
        self.dense_layers = nn.Sequential(*modules)
        self.conv_1x1 = nn.Conv2d(n_channels + n_denselayer * n_feats, n_feats, kernel_size=1, bias=False)

    def forward(self, x):
        out = self.dense_layers(x)
        out = self.conv_1x1(out)
        return x + out


class CSB(nn.Module):
    def __init__(self, n_feats):
        super(CSB, self).__init__()
        self.conv1 = nn.Conv2d(n_feats * 4, n_feats * 4, kernel_size=1, padding=0, bias=False)

    def forward(self, x):
        f1 = x[:, :, 0:x.size(2)//2, 0:x.size(3)//2]
        f2 = x[:, :, x.size(2)//2:, 0:x.size(3)//2]
        f3 = x[:, :, 0:x.size(2)//2, x.size(3)//2:]
        f4 = x[:, :, x.size(2)//2:, x.size(3)//2:]
        f_all = torch.cat([f1, f2, f3, f4], 1)
        f_all = self.conv1(f_all)
        out = x
        out[:, :, 0:x.size(2)//2, 0:x.size(3)//2] = f_all[:, 0:f_all.size(1)//4, :, :]
        out[:, :, x.size(2)//2:, 0:x.size(3)//2] = f_all[:, f_all.size(1)//4:f_all.size(1)//2, :, :]
        out[:, :, 0:x.size(2)//2, x.size(3)//2:] = f_all[:, f_all.size(1)//2:f_all.size(1)*3//4, :, :]
        out[:, :, x.size(2)//2:, x.size(3)//2:] = f_all[:, f_all.size(1)*3//4:, :, :]
        return out


class MCAB(nn.Module):
    def __init__(self, n_channels, n_denselayer=2, n_feats=8):
        super(MCAB, self).__init__()
        self.drb = DRB(n_channels, n_denselayer, n_feats)
        self.csb = CSB(n_feats)
        self.conv3 = nn.Conv2d(n_feats, n_feats, kernel_size=3, padding=1, bias=False)

    def forward(self, x):
        down_b = self.drb(x)
        top_b = self.csb(x)
        top_b = torch.sigmoid(self.conv3(top_b))
        return down_b * top_b


class TSAN(nn.Module):
    def __init__(self, args):
        super(TSAN, self).__init__()
        conv = common.default_conv
        n_feats = args['n_feats']
        n_colors = args['n_colors']
        self.first_conv = nn.Conv2d(n_colors, n_feats, 1, padding=0, stride=1)
        self.relu = nn.ReLU(inplace=True)
        self.body1 = MCAB(n_feats, args['n_denselayer'], n_feats)
        self.up = common.Upsampler(conv, args['scale'][0], n_feats)
        self.output1 = conv(n_feats, n_colors, 1)

    def forward(self, x):
        first_out = self.relu(self.first_conv(x)).clone()
        out_dense1 = self.body1(first_out)
        out = out_dense1 + first_out
        out = self.up(out)
        return self.output1(out)
