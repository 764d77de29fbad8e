"""Is this expression a tensor autograd tracks? Local, cheap, explainable evidence.

`i += 1`, `total += loss.item()`, `names += [n]` and numpy arrays are the bulk of
in-place code in real repositories; a rule that fires on them is noise. The
evidence is read from the same function only: what a name was assigned from, how
a parameter is annotated, whether it is an input of `forward` in an nn.Module.
Each verdict carries a Confidence and a short note the finding repeats.

One module per question, all sharing one memo and cycle guard (`memo.py`):
`tensor` (is it a tensor?), `tracked` (does autograd track it?), `leaf` (is it a
leaf that requires grad?), `aliasing` (who else holds it; is it fresh?), `binding`
(would a rebinding reach every reader of the old object?). `file` holds `Evidence`,
the per-file object the rules ask. This package re-exports the names the rules import,
so `from inplace_fix.transforms.evidence import ...` keeps working.
"""

from inplace_fix.transforms.base import Confidence
from inplace_fix.transforms.evidence.aliasing import (
    ALIASING_METHODS, ALIASING_TORCH, FACTORIES, NEW_FACTORY_METHODS, AliasEvidence,
)
from inplace_fix.transforms.evidence.binding import BindingEvidence
from inplace_fix.transforms.evidence.file import Evidence, get_evidence
from inplace_fix.transforms.evidence.leaf import LeafEvidence
from inplace_fix.transforms.evidence.memo import Memo
from inplace_fix.transforms.evidence.tensor import (
    NON_TENSOR_ATTRS, NON_TENSOR_BUILTINS, NON_TENSOR_METHODS, NON_TENSOR_MODULES, NON_TENSOR_TORCH,
    NON_TENSOR_TORCH_PREFIXES, TENSOR_ANNOTATIONS, TENSOR_METHODS, TensorEvidence,
)
from inplace_fix.transforms.evidence.tracked import (
    DTYPE_KEEPING, INT_CAST_METHODS, INT_DTYPES, INT_RESULTS, PURE_HELPERS, REQUIRES_GRAD, UNTRACKED_SOURCES,
    TrackedEvidence,
)
from inplace_fix.transforms.evidence.verdict import NON, UNKNOWN, Verdict

__all__ = [
    "ALIASING_METHODS", "ALIASING_TORCH", "DTYPE_KEEPING", "FACTORIES", "INT_CAST_METHODS", "INT_DTYPES",
    "INT_RESULTS", "NEW_FACTORY_METHODS", "NON", "NON_TENSOR_ATTRS", "NON_TENSOR_BUILTINS", "NON_TENSOR_METHODS",
    "NON_TENSOR_MODULES", "NON_TENSOR_TORCH", "NON_TENSOR_TORCH_PREFIXES", "PURE_HELPERS", "REQUIRES_GRAD",
    "TENSOR_ANNOTATIONS", "TENSOR_METHODS", "UNKNOWN", "UNTRACKED_SOURCES", "AliasEvidence", "BindingEvidence",
    "Confidence", "Evidence", "LeafEvidence", "Memo", "TensorEvidence", "TrackedEvidence", "Verdict", "get_evidence",
]
