# inplace-fix-expect: kind=saved-tensor-modified modified=csnet.py:30 saved=csnet.py:29 rule=IPF001 fixable=yes
# pattern: iadd_on_relu_output (extra: the training loop writes checkpoints and a log into the project folder)
# Reproduces https://github.com/iMED-Lab/CS-Net/pull/6 ("out += residual" in ResEncoder, right
# after the ReLU whose output its backward needs). As in CS-Net's train.py, batches come from a
# DataLoader with num_workers=2 and every epoch pickles the whole net with torch.save into
# checkpoint/ beside the script, with a loss log; nothing is written before the first step.
"""
Training script for CS-Net
"""
import os

import torch
import torch.nn as nn
from torch import optim
from torch.utils.data import DataLoader

from csnet import CSNet
from drive import Data

ROOT = os.path.dirname(os.path.abspath(__file__))
args = {
    'epochs': 3,
    'lr': 0.0001,
    'snapshot': 1,
    'ckpt_path': os.path.join(ROOT, 'checkpoint/'),
    'batch_size': 4,
}


def save_ckpt(net, iter):
    if not os.path.exists(args['ckpt_path']):
        os.makedirs(args['ckpt_path'])
    torch.save(net, args['ckpt_path'] + 'CS_Net_DRIVE_' + str(iter) + '.pkl')
    print('--->saved model:CS_Net_DRIVE_{}.pkl<--- '.format(iter))


def train():
    torch.manual_seed(0)
    net = CSNet(classes=1, channels=3)
    optimizer = optim.Adam(net.parameters(), lr=args['lr'], weight_decay=0.0005)
    critrion = nn.MSELoss()
    train_data = Data(train=True)
    batchs_data = DataLoader(train_data, batch_size=args['batch_size'], num_workers=2, shuffle=False)
    log = None
    for epoch in range(args['epochs']):
        net.train()
        for idx, batch in enumerate(batchs_data):
            image, label = batch
            optimizer.zero_grad()
            pred = net(image)
            loss = critrion(pred, label)
            print(f"step {epoch} loss {loss.item()!r}")
            loss.backward()
            optimizer.step()
        if (epoch + 1) % args['snapshot'] == 0:
            save_ckpt(net, epoch + 1)
            if log is None:
                log = open(os.path.join(args['ckpt_path'], 'train_log.txt'), 'w')
            log.write('[{0:d}] --- loss:{1:.10f}\n'.format(epoch + 1, loss.item()))
            log.flush()
    log.close()


if __name__ == '__main__':
    train()
