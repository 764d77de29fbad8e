# inplace-fix-expect: kind=saved-tensor-modified modified=necks.py:28 saved=cnn.py:17 rule=IPF001 fixable=yes
# pattern: fpn_topdown_list_iadd_on_sigmoid (extra: a package with relative imports, trainer class and argparse entry)
# Reproduces https://github.com/open-mmlab/mmdetection/pull/9450: with `act_cfg=dict(type='ReLU')`
# PAFPN's bottom-up path `inter_outs[i + 1] += ...` adds into the output of an fpn ConvModule's
# ReLU, which that ReLU's backward needs. This folder is the package (`__init__.py`, `necks.py`
# and `cnn.py` imported relatively by `trainer.py`); main.py puts its parent on sys.path, as
# tools/train.py scripts do, and imports the package by name.
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from pafpn_bottom_up_iadd_package import Trainer  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser(description="Train a detector neck")
    parser.add_argument("--act", default="ReLU", help="activation of the neck's ConvModules, or None")
    parser.add_argument("--iters", type=int, default=3)
    return parser.parse_args()


def main():
    args = parse_args()
    act_cfg = None if args.act == "None" else {"type": args.act}
    Trainer(act_cfg).run(args.iters)


if __name__ == "__main__":
    main()
