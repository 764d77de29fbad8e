"""inplace-fix: find and fix the in-place operations that break PyTorch autograd.

Installed as `inplace_fix` (this folder) with the rules as `inplace_fix.transforms`.
The public face is `inplace_fix.api`. This module stays import-light: nothing here
imports torch, libcst or click.
"""

__version__ = "0.1.0"
