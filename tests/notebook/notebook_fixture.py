"""A notebook that fails the classic way: sigmoid's saved output overwritten by ReLU(inplace=True)."""

from __future__ import annotations

from pathlib import Path

import nbformat

CELLS = [
    ("markdown", "# Training \u2014 caf\u00e9\nThe sigmoid output is needed by backward."),
    ("code", "%matplotlib inline\nimport torch\nimport torch.nn as nn"),
    ("code", "!echo preparing\nx = torch.randn(4, 3)\nw = torch.randn(3, 3, requires_grad=True)\n"
             "relu = nn.ReLU(inplace=True)"),
    ("code", "h = torch.sigmoid(x @ w)\nout = relu(h)\nout.sum().backward()\nprint('backward ok')"),
]


def write_notebook(path: Path, cells=CELLS) -> bytes:
    """The notebook as Jupyter saves it, with an error output and kernel metadata; its bytes."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_markdown_cell(src) if kind == "markdown" else nbformat.v4.new_code_cell(src)
                for kind, src in cells]
    nb.cells[-1].execution_count = 3
    nb.cells[-1].outputs = [nbformat.v4.new_output(
        "error", ename="RuntimeError", traceback=["RuntimeError: ..."],
        evalue="one of the variables needed for gradient computation has been modified by an inplace operation")]
    nbformat.write(nb, str(path))
    return path.read_bytes()

