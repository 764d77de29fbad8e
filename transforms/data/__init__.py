"""Data derived from torch once, by a developer, so rules never import torch."""
