"""Anomaly mode as a cross-check and a fallback; what the tracker cannot attribute."""
from __future__ import annotations

from pathlib import Path

from launcher_helpers import engine_run
from runtime_helpers import launch, line_of, write


def test_anomaly_cross_check_agrees(tmp_path: Path) -> None:
    s = write(tmp_path, "a.py", """
        import torch
        w = torch.randn(2, 4, requires_grad=True)
        h = torch.sigmoid(w)
        h += 1
        h.sum().backward()
    """)
    rep, _ = launch(s, "--anomaly")
    p = rep["problems"][0]
    assert p["saved_at"]["line"] == p["anomaly_saved_at"]["line"] == line_of(s, "torch.sigmoid")
    assert p["modified_at"]["line"] == line_of(s, "h += 1")


def test_unseen_write_still_names_the_saved_site(tmp_path: Path) -> None:
    # torch.ops.* bypasses torch-function modes: the write is not seen, the save is.
    s = write(tmp_path, "ops.py", """
        import torch
        w = torch.randn(3, requires_grad=True)
        h = torch.sigmoid(w)
        torch.ops.aten.add_.Tensor(h, torch.ones(3))
        h.sum().backward()
    """)
    p = launch(s)[0]["problems"][0]
    assert p["kind"] == "saved-tensor-modified"
    assert p["saved_at"]["line"] == line_of(s, "torch.sigmoid")
    assert p["modified_at"] is None and p["rule"] is None


def test_view_created_in_no_grad_found_by_fallback(tmp_path: Path) -> None:
    s = write(tmp_path, "v.py", """
        import torch
        lin = torch.nn.Linear(6, 8)
        feats = lin(torch.randn(5, 6))
        with torch.no_grad():
            head = feats[:, :4]
        head.mul_(2.0)
        feats.sum().backward()
    """)
    p = engine_run(s)[0]["problems"][0]  # the fallback re-run is the engine's
    assert p["kind"] == "view-modified" and p["saved_at"] is None
    assert p["modified_at"]["line"] == line_of(s, "head.mul_")
    assert p["view_created_at"]["line"] == line_of(s, "head = feats")
    assert p["rule"] == "IPF002"


def test_swallowed_error_still_reported_and_run_stops(tmp_path: Path) -> None:
    s = write(tmp_path, "sw.py", """
        import torch
        w = torch.randn(3, requires_grad=True)
        for step in range(3):
            h = torch.exp(w)
            h.mul_(2)
            try:
                h.sum().backward()
            except RuntimeError:
                print("ignored")
        raise SystemExit("should not get here")
    """)
    rep, _ = launch(s)
    assert rep["status"] == "found" and rep["stopped_by"] == "problem"
    assert rep["script_error"] is None and len(rep["problems"]) == 1
