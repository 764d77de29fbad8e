"""Writes the function mode cannot see, named by the dispatch-mode re-run; the common path keeps one run.

Each script groups several cases: with --clone-on-write the runtime walks past every problem
it can name, so one process reports them all (a torch process costs ~3 s).
"""
from __future__ import annotations

from pathlib import Path

from launcher_helpers import engine_run
from runtime_helpers import launch, line_of, write

from inplace_fix import anomaly_fallback


def _by_saved_line(report: dict) -> dict:
    return {p["saved_at"]["line"]: p for p in report["problems"] if p.get("saved_at")}


def _written(problem: dict) -> tuple:
    m = problem["modified_at"]
    return (m["line"], m["op"], problem["rule"]) if m else None


def test_function_mode_names_metadata_ops_and_aten_packets_without_a_dispatch_pass(tmp_path: Path) -> None:
    s = write(tmp_path, "meta.py", """
        import torch
        x = torch.randn(3, 4, requires_grad=True)
        a = x.exp()
        a.unsqueeze_(0)
        b = torch.sigmoid(x)
        b.t_()
        c = torch.tanh(x)
        c.transpose_(0, 1)
        d = torch.ones(3, 4)
        m = d * x
        d.resize_(3, 4)
        e = torch.sigmoid(x)
        torch.ops.aten.relu_(e)
        (a.sum() + b.sum() + c.sum() + m.sum() + e.sum()).backward()
    """)
    rep, _ = engine_run(s, "--clone-on-write")
    got = {line: _written(p) for line, p in _by_saved_line(rep).items()}
    assert got == {
        line_of(s, "a = x.exp()"): (line_of(s, "a.unsqueeze_"), "unsqueeze_", "IPF002"),
        line_of(s, "b = torch.sigmoid"): (line_of(s, "b.t_()"), "t_", "IPF002"),
        line_of(s, "c = torch.tanh"): (line_of(s, "c.transpose_"), "transpose_", "IPF002"),
        line_of(s, "e = torch.sigmoid"): (line_of(s, "torch.ops.aten.relu_"), "relu_", "IPF003"),
    }  # resize_ to the same shape bumps no version: no problem, and no silent one either
    assert all(p["library_frames"] == [] for p in rep["problems"])
    assert "dispatch_fallback" not in rep  # every writer named: the slow pass never ran


def test_dispatch_pass_names_writes_inside_torch_and_direct_aten_overloads(tmp_path: Path) -> None:
    s = write(tmp_path, "unseen.py", """
        import torch
        import torch.nn as nn
        emb = nn.Embedding(10, 4, max_norm=1.0)
        with torch.no_grad():
            emb.weight.mul_(3.0)
        q = torch.randn(4, 3, requires_grad=True)
        idx = torch.tensor([1, 2, 4])
        w = emb.weight
        z = w @ q
        y = emb(idx)
        x = torch.randn(3, 4, requires_grad=True)
        h = torch.sigmoid(x)
        torch.ops.aten.relu_.default(h)
        u = x.exp()
        torch.ops.aten.unsqueeze_.default(u, 0)
        k = torch.ones(3, 4)
        m = k * x
        torch.ops.aten.resize_.default(k, [3, 4])
        (z.sum() + y.sum() + h.sum() + u.sum() + m.sum()).backward()
    """)
    rep, _ = launch(s, "--dispatch-writes", "--clone-on-write")
    found = _by_saved_line(rep)
    got = {line: _written(p) for line, p in found.items()}
    assert got == {
        line_of(s, "z = w @ q"): (line_of(s, "y = emb(idx)"), "embedding_renorm_", None),
        line_of(s, "h = torch.sigmoid"): (line_of(s, "relu_.default"), "relu_", "IPF003"),
        line_of(s, "u = x.exp()"): (line_of(s, "unsqueeze_.default"), "unsqueeze_", "IPF003"),
    }  # resize_ to the same shape: no version bump, so the tentative hit is forgotten
    library = [(Path(f["file"]).name, f["function"]) for f in found[line_of(s, "z = w @ q")]["library_frames"]]
    assert ("functional.py", "embedding") in library and ("sparse.py", "forward") in library
    assert found[line_of(s, "h = torch.sigmoid")]["library_frames"] == []


def test_dispatch_pass_keeps_the_foreach_optimizer_step_bug(tmp_path: Path) -> None:
    # under a dispatch mode in-place _foreach_ ops bump no version counter: the pass bumps them
    s = write(tmp_path, "opt.py", """
        import torch
        lin = torch.nn.Linear(4, 4)
        opt = torch.optim.Adam(lin.parameters(), lr=0.1, foreach=True)
        x = torch.randn(2, 4, requires_grad=True)
        lin(x).sum().backward()
        loss = torch.sigmoid(lin(x)).sum()
        opt.step()
        loss.backward()
    """)
    rep, _ = launch(s, "--dispatch-writes")
    p = rep["problems"][0]
    assert p["kind"] == "saved-tensor-modified"
    assert p["modified_at"]["line"] == line_of(s, "opt.step()")
    assert p["modified_at"]["op"] == "_foreach_addcdiv_"  # Adam writes the parameter last


def test_engine_reruns_with_the_dispatch_pass_for_an_unnamed_writer(tmp_path: Path) -> None:
    s = write(tmp_path, "emb.py", """
        import torch
        import torch.nn as nn
        emb = nn.Embedding(10, 4, max_norm=1.0)
        with torch.no_grad():
            emb.weight.mul_(3.0)
        q = torch.randn(4, 3, requires_grad=True)
        z = emb.weight @ q
        y = emb(torch.tensor([1, 2, 4]))
        (z.sum() + y.sum()).backward()
    """)
    rep, _ = engine_run(s)
    p = rep["problems"][0]
    assert p["saved_at"]["line"] == line_of(s, "z = emb.weight @ q")
    assert (p["modified_at"]["line"], p["modified_at"]["op"]) == (line_of(s, "y = emb("), "embedding_renorm_")
    assert p["detected_by"] == "dispatch" and p["rule"] is None
    assert any(Path(f["file"]).name == "functional.py" for f in p["library_frames"])
    assert rep["dispatch_fallback"] == {"ran": True, "why": None}


def _problem(**kw: object) -> dict:
    base = {"kind": "saved-tensor-modified", "saved_at": {"file": "/p/a.py", "line": 3, "col": 4},
            "modified_at": None, "tensor": {"shape": [2], "name": None}, "rule": None, "library_frames": []}
    return {**base, **kw}


def test_merge_copies_the_writer_of_the_same_saved_tensor_only() -> None:
    writer = {"file": "/p/a.py", "line": 5, "col": 0, "op": "embedding_renorm_"}
    other = _problem(saved_at={"file": "/p/a.py", "line": 9, "col": 4}, modified_at={"line": 1})
    child = {"problems": [other, _problem(modified_at=writer, library_frames=[{"file": "/t/f.py"}],
                                          tensor={"shape": [2], "name": "w"})]}
    data = {"problems": [_problem()]}
    assert anomaly_fallback.dispatch_needed(data)
    merged, named = anomaly_fallback.merge_dispatch(data, child)
    p = merged["problems"][0]
    assert named == 1 and p["modified_at"] == writer and p["detected_by"] == "dispatch"
    assert p["library_frames"] == [{"file": "/t/f.py"}] and p["tensor"]["name"] == "w"
    assert data["problems"][0]["modified_at"] is None  # the input is left alone
    shape_differs = {"problems": [_problem(modified_at=writer, tensor={"shape": [3]})]}
    assert anomaly_fallback.merge_dispatch(data, shape_differs)[1] == 0


def test_dispatch_pass_is_asked_for_only_when_a_tracked_writer_is_unnamed() -> None:
    named = _problem(modified_at={"file": "/p/a.py", "line": 5})
    from_message = _problem(saved_at=None, detected_by="message")
    assert not anomaly_fallback.dispatch_needed({"problems": [named, from_message]})
    assert not anomaly_fallback.dispatch_needed({"problems": [_problem(kind="view-modified")]})
    reference = anomaly_fallback.dispatch_options(("--record", "r.pt", "--clone-on-write"))
    assert reference == anomaly_fallback.DISPATCH_OPTIONS + ("--clone-on-write", "--record", "r.pt")
    checked = anomaly_fallback.dispatch_options(("--compare", "r.pt", "--record=f.pt", "--clone-on-write"))
    assert "--record" not in checked  # a fixed run's recording is compared by that run itself
    assert anomaly_fallback.dispatch_options(()) == anomaly_fallback.DISPATCH_OPTIONS
