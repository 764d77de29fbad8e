"""Parse torch's in-place error messages (every torch release since 1.8).

Why: when torch itself raises (our hooks were overridden, e.g. by checkpointing, or
we run under --anomaly as a cross-check), the message is all we get; it carries the
shape, dtype, device, the versions and sometimes the grad_fn of the tensor *after*
the mutation ("output 0 of Sigmoid"/"SigmoidBackward0"/"AsStridedBackward0"), which
is never the op that saved it.
"""
from __future__ import annotations

import re
from typing import Any, Optional

VERSION_MARK = "one of the variables needed for gradient computation has been modified by an inplace operation"
LEAF_MARK = "a leaf Variable that requires grad is being used in an in-place operation"
LEAF_VIEW_MARK = "a view of a leaf Variable that requires grad is being used in an in-place operation"
VIEW_MARKS = (
    "is a view and is being modified inplace",
    "A view was created in no_grad mode and is being modified inplace",
    "A view was created in no_grad mode and its base or another view of its base has been modified inplace",
    "a view of a leaf Variable that requires grad",
    "is a view of a leaf Variable",
)

_TYPE_DTYPES = {
    "Float": "float32", "Double": "float64", "Half": "float16", "BFloat16": "bfloat16",
    "Long": "int64", "Int": "int32", "Short": "int16", "Char": "int8", "Byte": "uint8",
    "Bool": "bool", "ComplexFloat": "complex64", "ComplexDouble": "complex128",
    "ComplexHalf": "complex32",
}

_VERSION_RE = re.compile(
    r"\[(?P<type>[\w.]+?)(?P<dtype>[A-Z][A-Za-z0-9]*?)Tensor\s*(?:\[(?P<shape>[^\]]*)\])?\]"
    r"(?:,\s*which is output (?P<index>\d+) of (?P<node>[\w:.<>]+),)?"
    r"\s*is at version (?P<now>\d+); expected version (?P<saved>\d+) instead"
)
_VIEW_NODE_RE = re.compile(r"Output (?P<index>\d+) of (?P<node>[\w:.<>]+) is a view")


def first_line(message: str) -> str:
    return message.strip().splitlines()[0] if message.strip() else message


def classify(message: str) -> Optional[str]:
    """Problem kind for a torch RuntimeError message, or None when it is not ours."""
    if VERSION_MARK in message:
        return "saved-tensor-modified"
    if LEAF_VIEW_MARK in message:
        return "view-modified"
    if LEAF_MARK in message:
        return "leaf-modified"
    if any(m in message for m in VIEW_MARKS):
        return "view-modified"
    return None


def _parse_shape(text: Optional[str]) -> Optional[list[int]]:
    if text is None:
        return None
    text = text.strip()
    if not text:
        return []
    try:
        return [int(p) for p in text.split(",") if p.strip()]
    except ValueError:
        return None


def parse(message: str) -> dict[str, Any]:
    """Fields of the message: kind, shape, dtype, device, versions, output index, node."""
    out: dict[str, Any] = {"kind": classify(message), "shape": None, "dtype": None,
                           "device": None, "version_now": None, "version_saved": None,
                           "output_index": None, "node": None}
    m = _VERSION_RE.search(message)
    if m:
        prefix = m.group("type")  # "torch." or "torch.cuda." or "torch.mps."
        parts = [p for p in prefix.split(".") if p and p != "torch"]
        out["device"] = parts[0] if parts else "cpu"
        out["dtype"] = _TYPE_DTYPES.get(m.group("dtype"), m.group("dtype").lower())
        out["shape"] = _parse_shape(m.group("shape"))
        out["version_now"] = int(m.group("now"))
        out["version_saved"] = int(m.group("saved"))
        if m.group("index") is not None:
            out["output_index"] = int(m.group("index"))
            out["node"] = m.group("node")
    else:
        v = _VIEW_NODE_RE.search(message)
        if v:
            out["output_index"] = int(v.group("index"))
            out["node"] = v.group("node")
    return out


def version_message(shape: list[int], dtype: str, device: str, now: int, saved: int,
                    output_of: Optional[str] = None) -> str:
    """Torch's own wording, so tools and people that grep for it still match."""
    names = {v: k for k, v in _TYPE_DTYPES.items()}
    tname = "torch." + ("" if device == "cpu" else device.split(":")[0] + ".") + names.get(dtype, "Float") + "Tensor"
    which = f", which is output 0 of {output_of}," if output_of else ""
    return (f"{VERSION_MARK}: [{tname} [{', '.join(str(s) for s in shape)}]]{which} is at version "
            f"{now}; expected version {saved} instead. Hint: run `inplace-fix` on the script "
            "to see the line that modified it and the line that saved it.")
