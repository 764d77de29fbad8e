from .necks import PAFPN
from .trainer import Trainer

__all__ = ["PAFPN", "Trainer"]
