"""inplace-fix: find and fix the in-place operations that break PyTorch autograd.

This package must stay import-light: `codemod.runtime` is imported inside the
user's interpreter, so nothing here may import torch, libcst or click.
"""

__version__ = "0.1.0"
