"""IPF004: `inplace=True` on activations and dropout makes them overwrite their input."""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from typing import ClassVar

from inplace_fix.transforms.base import Candidate, Example, Finding, FixSafety, FixTarget, Position, Rule
from inplace_fix.transforms.common import call_form, comment_near_arg, decline_reason, declined, is_chain
from inplace_fix.transforms.context import FileContext, dotted
from inplace_fix.transforms.cstutil import dotted as cst_dotted
from inplace_fix.transforms.cstutil import has_comment, is_true, keyword_index, remove_arg
from inplace_fix.transforms.data.inplace_tables import INPLACE_FLAG_FUNCTIONALS, INPLACE_FLAG_MODULES
from inplace_fix.transforms.evidence import Confidence, get_evidence
from inplace_fix.transforms.lazycst import cst

_FRESH_PRODUCERS = ("Conv", "Linear", "BatchNorm", "Norm", "Bilinear", "Embedding")


# Words of a callee name that say it builds or applies an activation/dropout or a layer.
_ACT_SUBSTRINGS = ("relu", "silu", "swish", "mish", "gelu", "sigmoid", "tanh", "dropout", "activation",
                   "nonlin")
_ACT_WORDS = frozenset({"act", "elu", "selu", "celu", "glu", "drop", "layer", "threshold"})
_VARIABLE_KEYWORD = re.compile(r"\binplace\s*=\s*(?!(?:True|False|None)\b)[A-Za-z_]")  # `inplace=inplace`
_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")


def _callee_name(ctx: FileContext, func: ast.AST) -> str:
    """Last name of the callee; for `make(...)(x, inplace=True)` the inner callee's."""
    while isinstance(func, ast.Call):
        func = func.func
    q = dotted(func) or ""
    return q.rsplit(".", 1)[-1]


def _looks_like_layer(name: str) -> bool:
    """`act_layer`, `norm_act_layer`, `create_act_layer`, `layers.act`, `BatchNormAct2d`, `Swish`."""
    low = name.lower()
    if any(s in low for s in _ACT_SUBSTRINGS):
        return True
    return any(w.lower() in _ACT_WORDS for w in _WORDS.findall(name))


def layer_evidence(ctx: FileContext, call: ast.Call, parent: ast.AST | None) -> str | None:
    """Why an `inplace=True` on a call that is not torch's own activation builds or calls a
    module/activation (None: no evidence, e.g. `convert_bounding_box_format(..., inplace=True)`)."""
    q = ctx.qualname(call.func) or ""
    name = _callee_name(ctx, call.func)
    if name == "partial" and call.args:
        target = ctx.qualname(call.args[0]) or dotted(call.args[0]) or ""
        module, _, last = target.rpartition(".")
        if module == "torch.nn" and last in INPLACE_FLAG_MODULES or \
                module == "torch.nn.functional" and last in INPLACE_FLAG_FUNCTIONALS:
            return f"`partial({target.replace('torch.nn.functional.', 'F.').replace('torch.nn.', 'nn.')}, inplace=True)`"
        return "`partial` of a layer factory" if _looks_like_layer(last) else None
    if q == "dict" or name == "dict" and isinstance(call.func, ast.Name):
        if any(kw.arg == "type" for kw in call.keywords):
            return "a layer config dict (`type=...`)"
        if isinstance(parent, ast.keyword) and parent.arg and _looks_like_layer(parent.arg):
            return f"`{parent.arg}` of a layer"
        return None
    if _looks_like_layer(name):
        return "`inplace=True` passed to a layer factory"
    return None


def _is_true(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def flag_index(ctx: FileContext, call: ast.Call) -> tuple[str, int, str] | None:
    """(how, argument index, kind) of an `inplace=True` flag; kind is module/functional/other."""
    q = ctx.qualname(call.func) or ""
    module, _, name = q.rpartition(".")
    kind = "other"
    pos = None
    if module == "torch.nn" and name in INPLACE_FLAG_MODULES:
        kind, pos = "module", INPLACE_FLAG_MODULES[name]
    elif module == "torch.nn.functional" and name in INPLACE_FLAG_FUNCTIONALS:
        kind, pos = "functional", INPLACE_FLAG_FUNCTIONALS[name]
    for i, kw in enumerate(call.keywords):
        if kw.arg == "inplace" and _is_true(kw.value):
            return "keyword", len(call.args) + i, kind
    if pos is not None and pos >= 0 and len(call.args) > pos and _is_true(call.args[pos]) \
            and not any(isinstance(a, ast.Starred) for a in call.args[:pos + 1]):
        return "positional", pos, kind
    return None


def _is_variable(node: ast.AST) -> bool:
    """A name or attribute chain (`inplace`, `self.inplace`, `args.inplace_act`): a flag whose
    value only the run knows, and whose replacement by `False` drops no computation."""
    return isinstance(node, (ast.Name, ast.Attribute)) and dotted(node) is not None


def variable_flag_index(ctx: FileContext, call: ast.Call) -> int | None:
    """Argument index of a variable flag on a torch.nn module construction
    (`nn.ReLU(inplace=inplace)`, `nn.LeakyReLU(0.2, inplace)`), None otherwise.

    Static analysis cannot tell whether it is true; the fixer rewrites it only where the
    runtime proved the module ran in place (`locate` at its construction site)."""
    q = ctx.qualname(call.func) or ""
    module, _, name = q.rpartition(".")
    if module != "torch.nn" or name not in INPLACE_FLAG_MODULES:
        return None
    for i, kw in enumerate(call.keywords):
        if kw.arg == "inplace":
            return len(call.args) + i if _is_variable(kw.value) else None
    pos = INPLACE_FLAG_MODULES[name]
    if 0 <= pos < len(call.args) and _is_variable(call.args[pos]) \
            and not any(isinstance(a, ast.Starred) for a in call.args[:pos + 1]):
        return pos
    return None


def _str_key(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def dict_flag_index(node: ast.Dict) -> int | None:
    """Index of the `"inplace": True` entry of a dict display, None if it has none."""
    for i, (key, value) in enumerate(zip(node.keys, node.values)):
        if _str_key(key) == "inplace" and _is_true(value):
            return i
    return None


def dict_evidence(node: ast.Dict, parent: ast.AST | None) -> str | None:
    """Why `{..., "inplace": True}` configures a layer: a `"type"` key (mmcv/mmdet config
    dicts) or a layer-ish keyword it is passed to (`act_kwargs={"inplace": True}`)."""
    if any(_str_key(key) == "type" for key in node.keys):
        return 'a layer config dict (`"type": ...`)'
    if isinstance(parent, ast.keyword) and parent.arg and _looks_like_layer(parent.arg):
        return f"`{parent.arg}` of a layer"
    return None


def _comment_in_entry(ctx: FileContext, node: ast.Dict, index: int) -> bool:
    """A comment between the neighbours of entry `index` (which dropping it could lose)?"""
    lo = node.values[index - 1] if index > 0 else None
    lo_line, lo_col = (lo.end_lineno, lo.end_col_offset) if lo is not None else (node.lineno, node.col_offset)
    if index + 1 < len(node.keys):
        hi = node.keys[index + 1] or node.values[index + 1]
        hi_line, hi_col = hi.lineno, hi.col_offset
    else:
        hi_line, hi_col = node.end_lineno, node.end_col_offset
    if lo_line == hi_line:
        return "#" in ctx.source_line(lo_line).encode("utf-8")[lo_col:hi_col].decode("utf-8", "replace")
    return any("#" in ctx.source_line(n) for n in range(lo_line, hi_line + 1))


def _cst_str(node: cst.BaseExpression | None) -> str | None:
    if isinstance(node, cst.SimpleString):
        try:
            value = node.evaluated_value
        except Exception:  # an odd literal libcst cannot evaluate: not our key
            return None
        return value if isinstance(value, str) else None
    return None


def remove_dict_flag(node: cst.Dict) -> cst.Dict | None:
    """The dict display without its `"inplace": True` entry, commas kept tidy; None when
    there is no such entry or removing it would drop or move a comment."""
    elements = list(node.elements)
    index = next((i for i, el in enumerate(elements) if isinstance(el, cst.DictElement)
                  and _cst_str(el.key) == "inplace" and is_true(el.value)), None)
    if index is None:
        return None
    removed = elements[index]
    last = index == len(elements) - 1
    before = elements[index - 1].comma if index > 0 else node.lbrace.whitespace_after
    after = node.rbrace.whitespace_before if last else None
    if has_comment(removed, before, after):
        return None  # the comment would be lost or move to another entry: leave the dict alone
    if last and index > 0:
        elements[index - 1] = elements[index - 1].with_changes(comma=removed.comma)
    del elements[index]
    return node.with_changes(elements=elements)


def _is_partial(call: ast.Call) -> bool:
    """`partial(cls, ...)` / `functools.partial(cls, ...)`."""
    return (dotted(call.func) or "").rsplit(".", 1)[-1] == "partial" and bool(call.args)


# torch.nn class names a config `type` string may spell (lower case): those with an `inplace`
# parameter, and the common activations without one (a config naming them is not an alias)
_NN_CLASSES = frozenset(name.lower() for name in (
    *INPLACE_FLAG_MODULES, "GELU", "Tanh", "Sigmoid", "Softplus", "PReLU", "GLU", "Identity", "Softmax",
    "LogSigmoid", "LogSoftmax", "Tanhshrink", "Softsign", "Hardshrink", "Softshrink"))


def registry_aliases(ctx: FileContext) -> dict[str, str]:
    """Registry keys of this file that name a torch.nn class under another name: dict displays
    (`ACTS = {"lrelu": nn.LeakyReLU}`) and registrations (`register_module("LReLU",
    module=nn.LeakyReLU)`, `register_module(name="LReLU", module=nn.LeakyReLU)`)."""
    cached = ctx._cache.get("ipf004_aliases")
    if cached is not None:
        return cached
    out: dict[str, str] = {}
    for node in ast.walk(ctx.tree):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values):
                cls = _nn_class(ctx, value)
                if _str_key(key) is not None and cls is not None:
                    out.setdefault(_str_key(key), cls)
        elif isinstance(node, ast.Call) and (dotted(node.func) or "").rsplit(".", 1)[-1] in (
                "register_module", "register", "_register_module"):
            name = next((_str_key(kw.value) for kw in node.keywords if kw.arg == "name"), None)
            name = name or (_str_key(node.args[0]) if node.args else None)
            module = next((kw.value for kw in node.keywords if kw.arg == "module"), None)
            module = module if module is not None else (node.args[1] if len(node.args) > 1 else None)
            cls = _nn_class(ctx, module) if module is not None else None
            if name is not None and cls is not None:
                out.setdefault(name, cls)
    ctx._cache["ipf004_aliases"] = out
    return out


def _nn_class(ctx: FileContext, node: ast.AST | None) -> str | None:
    """`LeakyReLU` for `nn.LeakyReLU` / `torch.nn.LeakyReLU` (a class with an `inplace` flag)."""
    q = ctx.qualname(node) if node is not None else None
    if q is None:
        return None
    module, _, last = q.rpartition(".")
    return last if module == "torch.nn" and last in INPLACE_FLAG_MODULES else None


def _rebound_by_flag(site, kind: str) -> tuple[ast.AST, ...]:
    """The name the rewrite rebinds: `F.relu(x, inplace=True)` alone becomes `x = F.relu(x)`, and
    `x = F.relu(x, inplace=True)` keeps its own rebinding of `x` to what is now a new tensor."""
    call = site.node
    if kind != "functional" or not call.args or not is_chain(call.args[0]):
        return ()
    form = call_form(site)
    if form.kind == "stmt" or form.kind == "assign" and dotted(form.target) == dotted(call.args[0]):
        return (call.args[0],)
    return ()


def flag_set(stmt: ast.stmt) -> str | None:
    """`m` of `m.inplace = True` (a flag set on a module after it was built), else None."""
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and _is_true(stmt.value):
        target = stmt.targets[0]
        if isinstance(target, ast.Attribute) and target.attr == "inplace":
            return dotted(target.value) or "..."
    return None


def _comment_after_value(ctx: FileContext, stmt: ast.Assign) -> bool:
    """A comment inside the statement's own text, between `=` and `True`: kept only by leaving it."""
    if stmt.lineno == stmt.end_lineno:
        return False
    return any("#" in ctx.source_line(n) for n in range(stmt.lineno, (stmt.end_lineno or stmt.lineno)))


def _flag_to_false(updated: cst.CSTNode, index: int, small: cst.Assign) -> cst.CSTNode | None:
    """`m.inplace = True` -> `m.inplace = False` (the statement stays: it may be a loop's body)."""
    target = small.targets[0].target if len(small.targets) == 1 else None
    if not (isinstance(target, cst.Attribute) and target.attr.value == "inplace" and is_true(small.value)):
        return None
    body = list(updated.body)
    body[index] = small.with_changes(value=cst.Name("False"))
    return updated.with_changes(body=body)


def _variable_to_false(call: cst.Call, index: int) -> cst.Call | None:
    """`nn.ReLU(inplace=inplace)` -> `nn.ReLU(inplace=False)`: only the value changes (its
    parentheses, the comma and any comment stay); None unless the value is a name or an
    attribute chain (a call could have effects the rewrite would drop)."""
    value = call.args[index].value
    if not isinstance(value, (cst.Name, cst.Attribute)) or cst_dotted(value) is None \
            or isinstance(value, cst.Name) and value.value in ("True", "False", "None"):
        return None
    args = list(call.args)
    args[index] = args[index].with_changes(value=cst.Name("False", lpar=value.lpar, rpar=value.rpar))
    return call.with_changes(args=args)


class InplaceFlag(Rule):
    code: ClassVar[str] = "IPF004"
    name: ClassVar[str] = "inplace-flag"
    message: ClassVar[str] = "`inplace=True` makes the activation/dropout overwrite its input; drop the flag"
    title: ClassVar[str] = "drop inplace=True"
    hand_fix: ClassVar[str] = "construct the module with `inplace=False` (or set `m.inplace = False`)"
    finds: ClassVar[str] = (
        '`inplace=True` on activations and dropout: `nn.ReLU(inplace=True)`, `nn.Dropout(p, True)`, '
        '`F.relu(x, inplace=True)`, layers built through factories or config dicts with `inplace=True`, '
        'and flags switched on after construction (`m.inplace = True`).'
    )
    breaks: ClassVar[str] = (
        'With the flag the activation writes its result into its input. When that input was saved for '
        'backward (the output of tanh, sigmoid, softmax or exp, or of another in-place activation), '
        '`backward()` fails with "modified by an inplace operation"; when it is still read later (a '
        'residual shortcut), the forward pass silently computes something else.'
    )
    explanation: ClassVar[str] = (
        "`nn.ReLU(inplace=True)`, `nn.Dropout(p, True)`, `F.relu(x, inplace=True)`, `F.dropout(..., "
        "inplace=True)` and every layer built with `inplace=True` (`act_layer(inplace=True)`, config "
        "dicts) write their result into their input. When that input was saved for backward (the "
        "output of tanh/sigmoid/softmax/exp, or of another in-place activation) or is still read later "
        "(a shortcut), backward fails or the forward silently changes. Without the flag the module "
        "returns a new tensor with the same values. The flag is dropped (a positional `True` followed "
        "by more arguments becomes `False`). A statement whose result is unused, `F.relu(x, "
        "inplace=True)`, becomes `x = F.relu(x)`, because dropping the flag alone would make it a "
        "no-op. A call that is not torch's own activation/dropout is flagged only with evidence "
        "that it builds one: a layer-factory name (`act_layer`, `norm_act_layer`, `create_act_layer`, "
        "`layers.act`, `*Swish*`), `partial(nn.ReLU, inplace=True)`, or a config `dict(type=..., "
        "inplace=True)` / `act_kwargs=dict(inplace=True)`; `convert_bounding_box_format(..., "
        "inplace=True)` or `df.dropna(inplace=True)` are not. A flag set after construction (`for m in "
        "net.modules(): m.inplace = True`, `self.drop.inplace = True`) becomes `= False` (the statement "
        "stays, it may be a loop's body); the runtime names that line (`inplace_set_at`). A builder's "
        "`partial(nn.ReLU6, inplace=True)` is a config literal whose type is the class, found up the "
        "construction stack like a config dict; a config `type` that is a registry key (`\"lrelu\"`) is "
        "resolved through the file's registries (`{\"lrelu\": nn.LeakyReLU}`) where possible. A flag "
        "given by a variable (`nn.ReLU(inplace=inplace)`, `nn.LeakyReLU(0.2, inplace)`) is not flagged: "
        "its value is unknown without a run; when the runtime shows that module ran in place, the fixer "
        "writes `inplace=False` at its construction, which keeps the values whatever the variable held."
    )
    safety: ClassVar[FixSafety] = FixSafety.UNSAFE
    safe_where_shown: ClassVar[bool] = True
    unsafe_when: ClassVar[str] = (
        "The in-place version also changed the tensor its caller passed in; code that reads that "
        "tensor after the activation (a shortcut computed from the same input, an alias in a list) saw "
        "the activated values and will now see the originals. Safe when the result is rebound to the "
        "input name and that name is a local fresh, unaliased tensor (`x = F.relu(x, inplace=True)`), "
        "or when the module sits in an nn.Sequential right after a Conv/Linear/Norm layer (whose "
        "output nobody else holds). Module constructions elsewhere cannot be traced to their call "
        "sites statically and are unsafe, and so is `m.inplace = False` after construction (every "
        "module it reaches stops writing into its input)."
    )
    expr_nodes: ClassVar[tuple[str, ...]] = ("Call", "Dict")
    statement_level: ClassVar[bool] = True
    bulk_default: ClassVar[bool] = True
    valid: ClassVar[tuple[str, ...]] = (
        "import torch.nn as nn\n\nact = nn.ReLU()\n",
        "import torch.nn as nn\n\nact = nn.ReLU(inplace=False)\n",
        "import torch.nn as nn\n\ndef make(inplace):\n    return nn.ReLU(inplace=inplace)\n",
        # a variable flag: only the fixer rewrites it (`inplace=False`), where the run proved it true
        "import torch.nn as nn\n\nclass Head(nn.Module):\n    def __init__(self, inplace=True):\n"
        "        super().__init__()\n        self.act = nn.ReLU(inplace=inplace)\n",
        "import torch.nn as nn\n\ndef make(inplace):\n    return nn.LeakyReLU(0.2, inplace)\n",
        "import torch.nn as nn\n\ndef make(args):\n    return nn.ReLU(inplace=args.inplace_act)\n",
        "import torch.nn.functional as F\n\ndef f(x):\n    return F.relu(x)\n",
        "import pandas as pd\n\ndef f(df):\n    df.dropna(inplace=True)\n    return df\n",
        "def f(df):\n    df.fillna(0, inplace=True)\n",
        "import torch\nimport torch.nn.functional as F\n\ndef f(x):\n    with torch.no_grad():\n"
        "        y = F.relu(x, inplace=True)\n    return y\n",
        "import torch.nn as nn\n\nlayer = nn.Dropout(0.5)\n",
        "import torch.nn as nn\n\nlayer = nn.LeakyReLU(0.1)\n",
        "import torch.nn as nn\n\nlayer = nn.Hardtanh(-1.0, 1.0, False)\n",
        "import torch.nn as nn\n\nlayer = nn.Linear(3, 4, True)\n",
        "import torch.nn.functional as F\n\ndef f(x):\n    return F.dropout(x, 0.1, True)\n",
        # not an activation: torchvision's box conversion takes `inplace=` too
        "from torchvision.transforms.v2.functional import convert_bounding_box_format\n\n"
        "def f(boxes, fmt):\n    out = convert_bounding_box_format(boxes, old_format=fmt, new_format='XYXY', inplace=True)\n"
        "    return out\n",
        "def g(t):\n    y = normalize(t, [0.5], [0.5], inplace=True)\n    return y\n",
        "cfg = dict(inplace=True)\n",
        "cfg = {'inplace': True}\n",
        "cfg = {'type': 'ReLU', 'inplace': False}\n",
        "def f(net):\n    for m in net.modules():\n        m.inplace = False\n",
        "class Act:\n    def __init__(self, inplace=False):\n        self.inplace = inplace\n",
    )
    invalid: ClassVar[tuple[Example, ...]] = (
        Example("import torch.nn as nn\n\nact = nn.ReLU(inplace=True)\n",
                "import torch.nn as nn\n\nact = nn.ReLU()\n", unsafe=True),
        Example("import torch.nn as nn\n\nact = nn.ReLU(True)\n", "import torch.nn as nn\n\nact = nn.ReLU()\n", unsafe=True),
        Example("import torch.nn as nn\n\nd = nn.Dropout(0.5, True)\n", "import torch.nn as nn\n\nd = nn.Dropout(0.5)\n",
                unsafe=True),
        Example("import torch.nn as nn\n\nd = nn.Dropout(p=0.5, inplace=True)\n",
                "import torch.nn as nn\n\nd = nn.Dropout(p=0.5)\n", unsafe=True),
        Example("import torch.nn as nn\n\nd = nn.LeakyReLU(0.2, True)\n", "import torch.nn as nn\n\nd = nn.LeakyReLU(0.2)\n",
                unsafe=True),
        Example("from torch.nn import ReLU6\n\nd = ReLU6(inplace=True)\n", "from torch.nn import ReLU6\n\nd = ReLU6()\n",
                unsafe=True),
        Example("import torch.nn as nn\n\nh = nn.Hardtanh(-1.0, 1.0, True, -2.0)\n",
                "import torch.nn as nn\n\nh = nn.Hardtanh(-1.0, 1.0, False, -2.0)\n", unsafe=True),
        Example("import torch.nn.functional as F\n\ndef f(x):\n    h = F.relu(x, inplace=True)\n    return h\n",
                "import torch.nn.functional as F\n\ndef f(x):\n    h = F.relu(x)\n    return h\n", unsafe=True),
        Example("import torch.nn.functional as F\n\ndef f(a):\n    x = a * 2\n    x = F.relu(x, inplace=True)\n    return x\n",
                "import torch.nn.functional as F\n\ndef f(a):\n    x = a * 2\n    x = F.relu(x)\n    return x\n"),
        Example("import torch.nn.functional as F\n\ndef f(a):\n    x = a * 2\n    F.relu(x, inplace=True)\n    return x\n",
                "import torch.nn.functional as F\n\ndef f(a):\n    x = a * 2\n    x = F.relu(x)\n    return x\n"),
        Example("import torch.nn.functional as F\n\ndef f(h):\n    h = F.dropout(h, 0.3, True, True)\n    return h\n",
                "import torch.nn.functional as F\n\ndef f(h):\n    h = F.dropout(h, 0.3, True)\n    return h\n", unsafe=True),
        Example("import torch.nn.functional as F\n\ndef f(h):\n    h = F.dropout(h, p=0.3, training=True, inplace=True)\n    return h\n",
                "import torch.nn.functional as F\n\ndef f(h):\n    h = F.dropout(h, p=0.3, training=True)\n    return h\n",
                unsafe=True),
        Example("def build(act_layer):\n    return act_layer(inplace=True)\n", "def build(act_layer):\n    return act_layer()\n",
                unsafe=True),
        Example("cfg = dict(type='ReLU', inplace=True)\n", "cfg = dict(type='ReLU')\n", unsafe=True),
        Example("cfg = {'type': 'ReLU', 'inplace': True}\n", "cfg = {'type': 'ReLU'}\n", unsafe=True),
        Example("cfg = {'inplace': True, 'type': 'ReLU'}\n", "cfg = {'type': 'ReLU'}\n", unsafe=True),
        Example("cfg = {\n    'type': 'ReLU',\n    'inplace': True,\n}\n", "cfg = {\n    'type': 'ReLU',\n}\n",
                unsafe=True),
        Example("cfg = {'type': 'ReLU', 'inplace': True}  # saves memory\n", "cfg = {'type': 'ReLU'}  # saves memory\n",
                unsafe=True),
        Example("cfg = {\n    'type': 'ReLU',\n    'inplace': True,  # saves memory\n}\n", None),
        Example("def build(make, c):\n    return make(c, act_kwargs={'inplace': True})\n",
                "def build(make, c):\n    return make(c, act_kwargs={})\n", unsafe=True),
        Example("def build(norm_act_layer, c):\n    return norm_act_layer(c, inplace=True)\n",
                "def build(norm_act_layer, c):\n    return norm_act_layer(c)\n", unsafe=True),
        Example("from functools import partial\nimport torch.nn as nn\n\nact_layer = partial(nn.ReLU, inplace=True)\n",
                "from functools import partial\nimport torch.nn as nn\n\nact_layer = partial(nn.ReLU)\n", unsafe=True),
        Example("def build(make, c):\n    return make(c, act_kwargs=dict(inplace=True))\n",
                "def build(make, c):\n    return make(c, act_kwargs=dict())\n", unsafe=True),
        Example("import torch.nn as nn\n\nmake_act = lambda: nn.ReLU(inplace=True)\n",
                "import torch.nn as nn\n\nmake_act = lambda: nn.ReLU()\n", unsafe=True),
        Example("import torch.nn as nn\n\nnet = nn.Sequential(\n    nn.Linear(4, 8),\n    nn.ReLU(inplace=True),\n"
                "    nn.Linear(8, 1),\n)\n",
                "import torch.nn as nn\n\nnet = nn.Sequential(\n    nn.Linear(4, 8),\n    nn.ReLU(),\n"
                "    nn.Linear(8, 1),\n)\n"),
        Example("import torch.nn as nn\n\nnet = nn.Sequential(nn.Tanh(), nn.ReLU(inplace=True))\n",
                "import torch.nn as nn\n\nnet = nn.Sequential(nn.Tanh(), nn.ReLU())\n", unsafe=True),
        Example("import torch.nn as nn\n\nact = nn.ReLU(\n    inplace=True,  # saves memory\n)\n", None),
        # the flag set after construction: the statement keeps its place (it may be a loop's body)
        Example("def save_memory(net):\n    for mod in net.modules():\n        if hasattr(mod, 'inplace'):\n"
                "            mod.inplace = True  # halve activation memory\n",
                "def save_memory(net):\n    for mod in net.modules():\n        if hasattr(mod, 'inplace'):\n"
                "            mod.inplace = False  # halve activation memory\n", unsafe=True),
        Example("import torch.nn as nn\n\nclass Head(nn.Module):\n    def train_fast(self):\n"
                "        self.drop.inplace = True\n",
                "import torch.nn as nn\n\nclass Head(nn.Module):\n    def train_fast(self):\n"
                "        self.drop.inplace = False\n", unsafe=True),
        Example("def f(net):\n    for m in net.modules(): m.inplace = True\n",
                "def f(net):\n    for m in net.modules(): m.inplace = False\n", unsafe=True),
        Example("import functools\nimport torch.nn as nn\n\nBlock = functools.partial(nn.ReLU6, inplace=True)\n",
                "import functools\nimport torch.nn as nn\n\nBlock = functools.partial(nn.ReLU6)\n", unsafe=True),
        Example("import torch.nn as nn\n\nact = nn.ELU(\n    alpha=1.0,\n    inplace=True,\n)\n",
                "import torch.nn as nn\n\nact = nn.ELU(\n    alpha=1.0,\n)\n", unsafe=True),
        Example("import torch.nn as nn\n\nclass B(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                "        self.act = nn.SiLU(inplace=True)  # act\n",
                "import torch.nn as nn\n\nclass B(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                "        self.act = nn.SiLU()  # act\n", unsafe=True),
        # a parameter and `act` returns None: `x = F.relu(x)` would drop what the caller sees; kept, no fix
        Example("import torch\nimport torch.nn.functional as F\n\ndef act(x: torch.Tensor):\n"
                "    F.relu(x, inplace=True)\n"),
        # the author asks to keep it: kept, no fix
        Example("import torch.nn as nn\n\n"
                "net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(inplace=True))  # keep inplace: saves memory\n"),
    )

    def candidates(self, ctx: FileContext) -> list[Candidate]:
        """Every literal flag, and (for `locate` only: the runtime proved the module ran in
        place) every variable flag on a torch.nn module's construction."""
        out = [*self._flag_candidates(ctx), *self._variable_flag_candidates(ctx)]
        out.sort(key=lambda c: c.position)
        return out

    def _variable_flag_candidates(self, ctx: FileContext) -> list[Candidate]:
        """`nn.ReLU(inplace=inplace)`: `inplace=False` keeps the values whatever the variable
        held. Never a finding (`find` cannot know the flag is true)."""
        return [Candidate(site.node, ctx.position(site.node), ctx.end_position(site.node), True,
                          "the flag is a variable; the run showed it true")
                for site in ctx.of(ast.Call) if variable_flag_index(ctx, site.node) is not None]

    def _flag_candidates(self, ctx: FileContext) -> list[Candidate]:
        """The sites of a literal `inplace=True` (calls, dict displays, `m.inplace = True`)."""
        out = []
        pandas = any(v.split(".")[0] == "pandas" for v in ctx.aliases.values())
        for site in ctx.of(ast.Call):
            call = site.node
            found = flag_index(ctx, call)
            if found is None:
                continue
            how, index, kind = found
            form = call_form(site)
            if kind == "other" and (form.kind == "stmt" or pandas and isinstance(call.func, ast.Attribute)
                                    or layer_evidence(ctx, call, site.parent) is None):
                continue  # result unused, a dataframe API, or no sign of a layer: not an activation flag
            fixable, why = True, ""
            if form.kind == "stmt" and kind == "functional" and not (call.args and is_chain(call.args[0])):
                fixable, why = False, "result unused and the input is not a name to rebind"
            elif comment_near_arg(ctx, call, index):
                fixable, why = False, "a comment sits next to the flag"
            out.append(Candidate(call, ctx.position(call), ctx.end_position(call), fixable, why))
        for site in ctx.of(ast.Dict):
            node = site.node
            index = dict_flag_index(node)
            if index is None or dict_evidence(node, site.parent) is None:
                continue
            fixable, why = True, ""
            if _comment_in_entry(ctx, node, index):
                fixable, why = False, "a comment sits next to the flag"
            out.append(Candidate(node, ctx.position(node), ctx.end_position(node), fixable, why))
        for site in ctx.of(ast.Assign):
            if flag_set(site.node) is not None:
                fixable = not _comment_after_value(ctx, site.node)
                out.append(Candidate(site.node, ctx.position(site.node), ctx.end_position(site.node), fixable,
                                     "" if fixable else "a comment sits next to the flag"))
        out.sort(key=lambda c: c.position)
        return out

    def find(self, ctx: FileContext) -> list[Finding]:
        ev = get_evidence(ctx)
        findings = []
        for cand in self._flag_candidates(ctx):
            if isinstance(cand.node, ast.Assign):
                site = ctx.site_of(cand.node)
                if not site.scope.quiet:
                    finding = self.finding(ctx, cand, confidence=Confidence.MEDIUM, safety=FixSafety.UNSAFE,
                                           note=f"`{flag_set(cand.node)}.inplace = True` after construction")
                    findings.append(declined(finding, decline_reason(ctx, ev, site.stmt, site.scope)))
                continue
            if isinstance(cand.node, ast.Dict):
                site = ctx.site_of(cand.node)
                note = dict_evidence(cand.node, site.parent) or ""
                finding = self.finding(ctx, cand, confidence=Confidence.MEDIUM, note=note, safety=FixSafety.UNSAFE)
                findings.append(declined(finding, decline_reason(ctx, ev, site.stmt, site.scope)))
                continue
            site = ctx.site_of(cand.node)
            _, _, kind = flag_index(ctx, cand.node)
            if kind == "functional" and (site.scope.no_grad or site.scope.inplace_api or site.scope.optimizer):
                continue
            conf = Confidence.HIGH if kind != "other" else Confidence.MEDIUM
            note = {"module": "torch module built in place", "functional": "in-place torch functional"}.get(kind) \
                or layer_evidence(ctx, cand.node, site.parent) or ""
            finding = self.finding(ctx, cand, confidence=conf, note=note,
                                   safety=FixSafety.SAFE if self._safe(ctx, ev, site, kind) else FixSafety.UNSAFE)
            findings.append(declined(finding, decline_reason(ctx, ev, site.stmt, site.scope,
                                                             _rebound_by_flag(site, kind))))
        return findings

    def fix_targets(self, sites: Mapping[str, str]) -> tuple[FixTarget, ...]:
        """A module built in place is fixed where it was constructed (the flag is there, not at
        the call that ran it); a functional call, where it ran."""
        if "inplace_set_at" in sites:  # `m.inplace = True` after construction: the flag is there
            return (FixTarget(self.code, "inplace_set_at", self.title),
                    *((FixTarget(self.code, "construction_at", self.title),) if "construction_at" in sites else ()))
        site = "construction_at" if "construction_at" in sites else "modified_at"
        code = sites.get(site) or ""
        title = self.title
        if site == "construction_at" and _VARIABLE_KEYWORD.search(code) and "inplace=True" not in code:
            title = "set inplace=False (the flag is a variable the run showed true)"
        return (FixTarget(self.code, site, title),)

    # -- config dicts, which the fixer traces from a builder's `cls(**cfg)` back up its stack --
    @staticmethod
    def is_config_literal(node: ast.AST) -> bool:
        """`dict(..., inplace=True)` or `{..., "inplace": True}`: a layer config whose flag this
        rule drops (whether it rewrites this very node is `locate`'s answer)."""
        if isinstance(node, ast.Call):
            flagged = any(kw.arg == "inplace" and _is_true(kw.value) for kw in node.keywords)
            return flagged and (isinstance(node.func, ast.Name) and node.func.id == "dict" or _is_partial(node))
        return isinstance(node, ast.Dict) and dict_flag_index(node) is not None

    @staticmethod
    def config_type(node: ast.AST, ctx: FileContext | None = None) -> tuple[str | None, bool]:
        """(last name of a config literal's `type` value, whether that surely names the class):
        `"mmcv.ReLU"` -> ("ReLU", True), `nn.ReLU` -> ("ReLU", False), computed -> (None, False);
        `partial(nn.ReLU6, inplace=True)` -> ("ReLU6", True). A string names the class for sure
        only when it spells a torch.nn class; a registry key (`"LReLU"`) is resolved through the
        file's own registries when `ctx` is given (`{"lrelu": nn.LeakyReLU}`,
        `register_module("LReLU", module=nn.LeakyReLU)`), else it cannot tell; a name may be a
        variable (`type=act`)."""
        if isinstance(node, ast.Call) and _is_partial(node):
            target = dotted(node.args[0]) if node.args else None
            if target is None:
                return None, False
            last = target.rsplit(".", 1)[-1]
            return last, isinstance(node.args[0], ast.Attribute) and last in INPLACE_FLAG_MODULES
        if isinstance(node, ast.Call):
            value = next((kw.value for kw in node.keywords if kw.arg == "type"), None)
        elif isinstance(node, ast.Dict):
            value = next((v for k, v in zip(node.keys, node.values) if _str_key(k) == "type"), None)
        else:
            return None, False
        text = _str_key(value)
        if text is not None:
            last = text.rsplit(".", 1)[-1] or None
            resolved = registry_aliases(ctx).get(text) if ctx is not None else None
            if resolved is not None:
                return resolved, True
            return last, last is not None and last.lower() in _NN_CLASSES
        if isinstance(value, ast.Attribute):
            return value.attr, False
        if isinstance(value, ast.Name):
            return value.id, False
        return None, False

    @staticmethod
    def config_position(ctx: FileContext, node: ast.AST) -> Position:
        """Where this rule's rewrite of a config literal starts: the literal's own start."""
        return ctx.position(node)

    def _safe(self, ctx: FileContext, ev, site, kind: str) -> bool:
        call = site.node
        if kind == "functional" and call.args and isinstance(call.args[0], ast.Name):
            form = call_form(site)
            name = call.args[0].id
            rebinds = form.kind == "stmt" or (form.kind == "assign" and isinstance(form.target, ast.Name)
                                                and form.target.id == name)
            return rebinds and ev.fresh_unaliased(name, site.scope)
        if kind == "module" and isinstance(site.parent, ast.Call):
            outer = site.parent
            q = dotted(outer.func) or ""
            if q.rsplit(".", 1)[-1] == "Sequential" and call in outer.args:
                i = outer.args.index(call)
                if i > 0 and isinstance(outer.args[i - 1], ast.Call):
                    prev = (dotted(outer.args[i - 1].func) or "").rsplit(".", 1)[-1]
                    return any(p in prev for p in _FRESH_PRODUCERS)
        return False

    def fix_expr(self, original: cst.CSTNode, updated: cst.CSTNode, rc) -> cst.CSTNode | None:
        if isinstance(updated, cst.Dict):
            return remove_dict_flag(updated)
        if not isinstance(updated, cst.Call):
            return None
        name = (cst_dotted(updated.func) or "").rsplit(".", 1)[-1]
        i = keyword_index(updated.args, "inplace")
        if i is not None:
            if is_true(updated.args[i].value):
                return remove_arg(updated, i)
            return _variable_to_false(updated, i) if name in INPLACE_FLAG_MODULES else None
        pos = INPLACE_FLAG_MODULES.get(name, INPLACE_FLAG_FUNCTIONALS.get(name, -1))
        positional = [a for a in updated.args if a.keyword is None and not a.star]
        if pos < 0 or len(positional) <= pos:
            return None
        index = updated.args.index(positional[pos])
        if not is_true(positional[pos].value):
            return _variable_to_false(updated, index) if name in INPLACE_FLAG_MODULES else None
        if index == len(updated.args) - 1:
            return remove_arg(updated, index)
        args = list(updated.args)
        args[index] = args[index].with_changes(value=cst.Name("False"))
        return updated.with_changes(args=args)

    def fix_line(self, original: cst.CSTNode, updated: cst.CSTNode, index: int, rc) -> cst.CSTNode | None:
        orig_small, small = original.body[index], updated.body[index]
        if isinstance(small, cst.Assign):
            return _flag_to_false(updated, index, small) if rc.targeted(orig_small) else None
        if not (isinstance(orig_small, cst.Expr) and isinstance(orig_small.value, cst.Call)
                and isinstance(small, cst.Expr) and isinstance(small.value, cst.Call)):
            return None
        if not rc.targeted(orig_small.value):
            return None
        call = small.value
        name = (cst_dotted(call.func) or "").rsplit(".", 1)[-1]
        if name not in INPLACE_FLAG_FUNCTIONALS or not call.args or call.args[0].keyword is not None:
            return None
        if keyword_index(call.args, "inplace") is not None or len(call.args) == len(orig_small.value.args) \
                and keyword_index(orig_small.value.args, "inplace") is not None:
            return None  # the flag could not be dropped (a comment next to it): leave the line alone
        first = call.args[0].value
        if cst_dotted(first) is None:
            return None
        new = cst.Assign(targets=[cst.AssignTarget(target=first.deep_clone())], value=call, semicolon=small.semicolon)
        body = list(updated.body)
        body[index] = new
        return updated.with_changes(body=body)
