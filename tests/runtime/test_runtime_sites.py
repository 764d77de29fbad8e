"""The runtime names both lines: run launch.py on small scripts and assert the report."""
from __future__ import annotations

from pathlib import Path

from runtime_helpers import launch, line_of, write


def _one(rep: dict) -> dict:
    assert rep["status"] == "found", rep
    assert rep["problems"], rep
    return rep["problems"][0]


def test_iadd_on_relu_output(tmp_path: Path) -> None:
    s = write(tmp_path, "train.py", """
        import torch
        torch.manual_seed(0)
        fc = torch.nn.Linear(4, 4)
        x = torch.randn(2, 4)
        h = torch.relu(fc(x))
        h += 1
        loss = h.sum()
        loss.backward()
    """)
    rep, _ = launch(s)
    p = _one(rep)
    assert p["kind"] == "saved-tensor-modified"
    assert p["modified_at"]["line"] == line_of(s, "h += 1")
    assert p["modified_at"]["col"] == 0
    assert p["modified_at"]["op"] == "+="
    assert p["rule"] == "IPF001"
    assert p["saved_at"]["line"] == line_of(s, "h = torch.relu")
    assert p["saved_at"]["op"] == "relu"
    assert p["saved_at"]["file"] == str(s)
    assert p["needed_by"] == "ReluBackward0"
    assert p["grad_of"] == ["bias", "weight"] or sorted(p["grad_of"]) == ["leaf#0", "leaf#1"] or p["grad_of"]
    assert p["tensor"] == {"shape": [2, 4], "dtype": "float32", "device": "cpu", "name": "h",
                           "version_saved": 0, "version_now": 1, "parameter": False}
    assert p["error"].startswith("one of the variables needed for gradient computation")
    assert rep["backward_calls"] == 0 and rep["script_error"] is None


def test_relu_inplace_in_sequential_after_tanh(tmp_path: Path) -> None:
    s = write(tmp_path, "seq.py", """
        import torch
        from torch import nn
        net = nn.Sequential(
            nn.Linear(4, 4),
            nn.Tanh(),
            nn.ReLU(inplace=True),
            nn.Linear(4, 1),
        )
        x = torch.randn(3, 4)
        out = net(x)
        out.sum().backward()
    """)
    rep, _ = launch(s)
    p = _one(rep)
    assert p["rule"] == "IPF004"
    assert p["modified_at"]["line"] == line_of(s, "out = net(x)")
    assert p["modified_at"]["op"] == "relu_"
    assert p["saved_at"]["line"] == line_of(s, "out = net(x)")
    assert p["saved_at"]["op"] == "tanh"
    assert p["construction_at"]["line"] == line_of(s, "nn.ReLU(inplace=True)")
    assert p["construction_at"]["col"] == 4
    assert p["module"] == "ReLU"
    assert p["needed_by"] == "TanhBackward0"
    assert sorted(p["grad_of"]) == ["0.bias", "0.weight"]
    assert any(f["function"] == "forward" and f["file"].endswith("activation.py") for f in p["library_frames"])


def test_slice_assignment_on_sigmoid_output(tmp_path: Path) -> None:
    s = write(tmp_path, "sl.py", """
        import torch
        w = torch.randn(3, 5, requires_grad=True)
        att = torch.sigmoid(w * 2)
        att[:, 0] = 0
        att.sum().backward()
    """)
    p = _one(launch(s)[0])
    assert (p["modified_at"]["line"], p["saved_at"]["line"]) == (line_of(s, "att[:, 0] = 0"), line_of(s, "torch.sigmoid"))
    assert p["rule"] == "IPF006" and p["modified_at"]["op"] == "__setitem__"
    assert p["saved_at"]["op"] == "sigmoid"
    assert p["grad_of"] == ["leaf#0"]


def test_out_argument(tmp_path: Path) -> None:
    s = write(tmp_path, "out.py", """
        import torch
        buf = torch.randn(4, 3)
        w = torch.randn(3, 3, requires_grad=True)
        h = torch.matmul(buf, w)
        torch.mul(torch.ones(4, 3), 2.0, out=buf)
        h.sum().backward()
    """)
    p = _one(launch(s)[0])
    assert p["rule"] == "IPF007"
    assert p["modified_at"]["op"] == "mul(out=)"
    assert p["modified_at"]["line"] == line_of(s, "out=buf")
    assert p["saved_at"]["line"] == line_of(s, "torch.matmul")


def test_leaf_error_manual_sgd(tmp_path: Path) -> None:
    s = write(tmp_path, "sgd.py", """
        import torch
        torch.manual_seed(0)
        w = torch.randn(3, requires_grad=True)
        x = torch.randn(5, 3)
        for step in range(3):
            loss = (x @ w).pow(2).mean()
            loss.backward()
            w -= 0.1 * w.grad
            w.grad.zero_()
    """)
    rep, _ = launch(s)
    p = _one(rep)
    assert p["kind"] == "leaf-modified"
    assert p["rule"] == "IPF008"
    assert p["saved_at"] is None
    assert p["modified_at"]["line"] == line_of(s, "w -= 0.1")
    assert p["modified_at"]["op"] == "-="
    assert p["error"] == "a leaf Variable that requires grad is being used in an in-place operation."
    assert rep["backward_calls"] == 1
    assert rep["script_error"] is None


def test_data_silent_mutation(tmp_path: Path) -> None:
    s = write(tmp_path, "data.py", """
        import torch
        torch.manual_seed(0)
        fc = torch.nn.Linear(4, 4)
        x = torch.randn(2, 4)
        h = torch.sigmoid(fc(x))
        h.data.mul_(0.5)
        loss = h.sum()
        loss.backward()
        print("no error from torch")
    """)
    rep, proc = launch(s)
    p = _one(rep)
    assert p["kind"] == "silent-data-mutation"
    assert p["error"] is None
    assert p["rule"] == "IPF005"
    assert p["modified_at"]["line"] == line_of(s, "h.data.mul_")
    assert p["saved_at"]["line"] == line_of(s, "torch.sigmoid")
    assert p["tensor"]["name"] == "h"
    assert rep["backward_calls"] == 1


def test_optimizer_step_between_forward_and_backward(tmp_path: Path) -> None:
    s = write(tmp_path, "gan.py", """
        import torch
        from torch import nn
        torch.manual_seed(0)
        net = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 1))
        opt = torch.optim.SGD(net.parameters(), lr=0.1)
        x = torch.randn(8, 4)
        loss1 = net(x).pow(2).mean()
        loss2 = net(x).abs().mean()
        loss1.backward()
        opt.step()
        loss2.backward()
    """)
    p = _one(launch(s)[0])
    assert p["modified_at"]["line"] == line_of(s, "opt.step()")
    assert p["saved_at"]["line"] == line_of(s, "loss2 = net(x)")
    assert p["rule"] is None  # a library write: no local rewrite rule
    assert p["library_frames"], p
    assert any("torch/optim" in f["file"] for f in p["library_frames"])
    assert p["backward_call"] == 2


def test_problem_at_second_backward_call(tmp_path: Path) -> None:
    s = write(tmp_path, "second.py", """
        import torch
        torch.manual_seed(0)
        w = torch.randn(4, 4, requires_grad=True)
        x = torch.randn(2, 4)
        for step in range(3):
            h = torch.exp(x @ w)
            if step == 1:
                h.add_(1.0)
            h.sum().backward()
    """)
    rep, _ = launch(s)
    p = _one(rep)
    assert p["backward_call"] == 2 and rep["backward_calls"] == 1
    assert p["modified_at"]["line"] == line_of(s, "h.add_(1.0)")
    assert p["rule"] == "IPF002" and p["modified_at"]["op"] == "add_"
    assert p["saved_at"]["line"] == line_of(s, "torch.exp")


def test_two_problems_one_run(tmp_path: Path) -> None:
    s = write(tmp_path, "two.py", """
        import torch
        import torch.nn.functional as F
        torch.manual_seed(0)
        fa = torch.nn.Linear(5, 6)
        fb = torch.nn.Linear(5, 6)
        x = torch.randn(7, 5)
        a = torch.sigmoid(fa(x))
        a += 1
        b = torch.tanh(fb(x))
        b = F.relu(b, inplace=True)
        (a * b).sum().backward()
    """)
    rep, _ = launch(s)
    got = [(p["modified_at"]["line"], p["saved_at"]["line"], p["rule"]) for p in rep["problems"]]
    assert got == [(line_of(s, "a += 1"), line_of(s, "torch.sigmoid"), "IPF001"),
                   (line_of(s, "inplace=True"), line_of(s, "torch.tanh"), "IPF004")]


def test_clean_batchnorm_twice_and_foreach_optimizer(tmp_path: Path) -> None:
    s = write(tmp_path, "clean.py", """
        import torch
        from torch import nn
        torch.manual_seed(0)
        net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(inplace=True))
        opt = torch.optim.Adam(net.parameters(), lr=1e-3, foreach=True)
        x = torch.randn(2, 3, 8, 8)
        for step in range(5):
            opt.zero_grad()
            y = net(x) + net(x * 2)   # BatchNorm twice before one backward
            z = y * 2
            z += 1                    # harmless: mul by a scalar saves nothing
            z.mean().backward()
            opt.step()
    """)
    rep, _ = launch(s)
    assert rep["status"] == "clean", rep["problems"]
    assert rep["backward_calls"] == 3 and rep["stopped_by"] == "steps"


def test_script_error_and_exit(tmp_path: Path) -> None:
    s = write(tmp_path, "boom.py", """
        import sys
        print(sys.argv, __name__)
        raise ValueError("bad data")
    """)
    rep, _ = launch(s)
    assert rep["status"] == "script-error"
    assert rep["script_error"]["type"] == "ValueError"
    assert "boom.py" in rep["script_error"]["traceback"] and "launch.py" not in rep["script_error"]["traceback"]
    s2 = write(tmp_path, "bye.py", "import sys\nsys.exit(0)\n")
    rep2, _ = launch(s2)
    assert rep2["status"] == "clean" and rep2["script_error"] is None and rep2["exit_code"] == 0


def test_argv_path_name_and_module(tmp_path: Path) -> None:
    write(tmp_path, "pkg/__init__.py", "")
    write(tmp_path, "pkg/helper.py", "VALUE = 7\n")
    s = write(tmp_path, "pkg/main.py", """
        import json, os, sys
        import helper
        json.dump({"argv": sys.argv, "path0": sys.path[0], "name": __name__,
                   "cwd": os.getcwd(), "value": helper.VALUE,
                   "runtime_on_path": any("runtime" in p for p in sys.path)},
                  open(os.environ.get("OUT", "out.json"), "w"))
    """)
    rep, proc = launch(s, args=("--epochs", "1"), cwd=tmp_path)
    import json

    info = json.loads((tmp_path / "out.json").read_text())
    assert rep["status"] == "clean", rep
    assert info["argv"] == [str(s), "--epochs", "1"]
    assert info["path0"] == str(s.parent.resolve())
    assert info["name"] == "__main__" and info["value"] == 7
    assert info["cwd"] == str(tmp_path) and not info["runtime_on_path"]
    write(tmp_path, "pkg2/__init__.py", "")
    write(tmp_path, "pkg2/__main__.py", """
        import json, sys
        json.dump({"argv": sys.argv, "name": __name__, "path0": sys.path[0]}, open("out2.json", "w"))
    """)
    rep, _ = launch(s, module="pkg2", args=("x",), cwd=tmp_path)
    info = json.loads((tmp_path / "out2.json").read_text())
    assert rep["status"] == "clean", rep
    assert info["argv"] == [str(tmp_path / "pkg2" / "__main__.py"), "x"]
    assert info["name"] == "__main__" and info["path0"] == str(tmp_path)


def test_module_built_by_a_config_builder_reports_its_construction_stack(tmp_path: Path) -> None:
    s = write(tmp_path, "cfg.py", """
        import torch
        from torch import nn
        ACTS = {"ReLU": nn.ReLU}
        def build_act(cfg):
            cfg = dict(cfg)
            cls = ACTS[cfg.pop("type")]
            return cls(**cfg)
        class Block(nn.Module):
            def __init__(self, act_cfg=dict(type="ReLU", inplace=True)):
                super().__init__()
                self.fc = nn.Linear(4, 4)
                self.act = build_act(act_cfg)
            def forward(self, x):
                return self.act(torch.sigmoid(self.fc(x)))
        def main():
            net = Block()
            net(torch.randn(2, 4)).sum().backward()
        main()
    """)
    rep, _ = launch(s)
    p = _one(rep)
    assert p["rule"] == "IPF004" and p["module"] == "ReLU"
    assert p["construction_at"]["line"] == line_of(s, "return cls(**cfg)")
    stack = p["construction_stack"]
    assert stack[0] == p["construction_at"]
    assert [(f["line"], f["function"]) for f in stack] == [
        (line_of(s, "return cls(**cfg)"), "build_act"),
        (line_of(s, "self.act = build_act(act_cfg)"), "__init__"),
        (line_of(s, "net = Block()"), "main"),
        (line_of(s, "main()", 2), "<module>"),
    ]
    assert all(f["file"] == str(s) for f in stack)


def test_plain_construction_stack_starts_at_the_construction(tmp_path: Path) -> None:
    s = write(tmp_path, "seq.py", """
        import torch
        from torch import nn
        net = nn.Sequential(nn.Linear(4, 4), nn.Tanh(), nn.ReLU(inplace=True))
        net(torch.randn(3, 4)).sum().backward()
    """)
    rep, _ = launch(s)
    p = _one(rep)
    assert p["construction_stack"] == [p["construction_at"]]
    assert p["construction_at"]["line"] == line_of(s, "nn.ReLU(inplace=True)")
