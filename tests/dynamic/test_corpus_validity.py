"""The corpus is valid on its own, without inplace-fix: headers parse, every failing
script fails the declared way, every clean script passes, every golden rewrite runs,
prints the original's losses and differs from it only at the declared fix sites.

The heavy part runs `corpora/check.py --runner fork` once in a subprocess (torch is
imported once there and each script runs in a forked child, so the whole corpus takes
seconds of CPU rather than minutes of interpreter start-ups).
"""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHECK = REPO / "corpora" / "check.py"

# One script per row of PATTERNS.md ("Real-world patterns"); names as the rows spell them.
PATTERN_ROWS = (
    "iadd_on_relu_output", "prenorm_residual_iadd", "relu_inplace_on_input_used_by_shortcut",
    "double_inplace_relu_convmodule", "relu_inplace_after_tanh_output", "relu_inplace_then_dropout_inplace",
    "functional_dropout_inplace_after_tanh", "slice_assign_on_relu_output", "masked_assign_on_sigmoid_output",
    "out_argument_with_requires_grad", "gan_optD_step_before_errG_backward",
    "sac_critic_step_before_policy_backward", "actor_critic_shared_trunk_two_optimizers",
    "multi_loss_step_between_backwards", "rnn_hidden_carried_retain_graph",
    "cached_module_output_reused_across_steps", "clamp_inplace_on_softmax_probs",
    "masked_fill_inplace_after_softmax", "buffer_copy_after_use_in_forward",
    "bn_running_stats_overwritten_between_forwards_ddp", "preallocated_buffer_recurrence",
    "inplace_on_callers_tensor_shared_input", "no_grad_weight_clip_between_forward_and_backward",
    "detach_alias_then_inplace_target", "custom_function_saves_input_caller_mutates",
    "manual_sgd_update_without_no_grad", "leaf_param_init_normal_", "inplace_relu_on_parameter_bifpn",
    "view_of_leaf_bias_init_yolo", "full_backward_hook_plus_inplace_relu_gradcam",
    "custom_function_output_view_modified", "view_created_in_no_grad_modified_with_grad",
    "data_inplace_on_saved_output_silent", "data_update_hides_gan_step_bug_silent",
)


def _load_check():
    spec = importlib.util.spec_from_file_location("corpus_check", CHECK)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["corpus_check"] = mod
    spec.loader.exec_module(mod)
    return mod


check = _load_check()
FAILING = check.discover(check.FAILING)
CLEAN = check.discover(check.CLEAN)
HEADERS = {p: check.parse_header(p) for p in FAILING + CLEAN}


def _name(p: Path) -> str:
    return HEADERS[p].name


def test_corpus_size_and_pattern_coverage():
    assert len(FAILING) >= 33
    assert len(CLEAN) >= 6
    patterns = {h.pattern.split()[0] for h in HEADERS.values()}
    missing = [row for row in PATTERN_ROWS if row not in patterns]
    assert not missing, f"PATTERNS.md rows without a corpus script: {missing}"


@pytest.mark.parametrize("path", FAILING + CLEAN, ids=_name)
def test_header_parses_and_sites_exist(path):
    h = HEADERS[path]
    if path.is_relative_to(check.CLEAN):
        assert h.clean and not h.expects
        return
    assert h.expects and not h.clean
    assert check.validate_sites(h) == []
    for e in h.expects:
        if e.kind == "leaf-modified":
            assert e.saved is None
        if e.kind in ("saved-tensor-modified", "silent-data-mutation"):
            assert e.saved is not None
    if not h.fixable:
        assert h.why
        assert not check.golden_files(h)
    else:
        assert check.golden_files(h)


def test_required_corpus_features():
    hs = [h for h in HEADERS.values() if not h.clean]
    folders = [h for h in hs if h.path.name == "main.py"]
    assert len(folders) >= 3
    assert any(any(e.modified.file != "main.py" for e in h.expects) for h in folders)
    assert any(h.args for h in hs), "a script that needs command-line arguments"
    step = [h for h in hs if any("step()" in check._line(h.folder, e.modified) for e in h.expects)]
    assert len(step) >= 3, "optimizer.step() culprits"
    assert any("autograd.Function" in p.read_text() for h in hs for p in h.folder.glob("*.py")
               if h.path.name == "main.py" or p == h.path)
    assert any(len(h.expects) >= 2 for h in hs), "two independent problems in one run"
    assert any(e.kind == "silent-data-mutation" for h in hs for e in h.expects)
    assert any(e.kind == "silent-data-mutation" and e.fixable for h in hs for e in h.expects)
    assert {e.kind for h in hs for e in h.expects} == set(check.KINDS)
    rules = {r for h in hs for e in h.expects for r, _ in e.fix_sites()}
    assert rules == set(check.RULES) | set(check.FIX_STRATEGIES), f"golden rewrites cover rules {sorted(rules)}"
    # a script whose write-site rewrite changes the loss, fixed by a later candidate
    assert any(h.fixable and "loss" in h.path.read_text(encoding="utf-8").split("import", 1)[0]
               and any(r in check.FIX_STRATEGIES for e in h.expects for r, _ in e.fix_sites()) for h in hs)
    constructed = [e for h in hs for e in h.expects if e.constructed]
    assert len(constructed) >= 3


@pytest.mark.parametrize("bad, why", [
    ("# inplace-fix-expect: kind=oops modified=3 saved=2 rule=IPF001 fixable=yes", "kind"),
    ("# inplace-fix-expect: kind=leaf-modified modified=- saved=- rule=IPF008 fixable=yes", "modified"),
    ("# inplace-fix-expect: kind=saved-tensor-modified modified=3 saved=- rule=IPF001 fixable=yes", "saved"),
    ("# inplace-fix-expect: kind=leaf-modified modified=3 saved=- rule=IPF099 fixable=yes", "rule"),
    ("# inplace-fix-expect: kind=leaf-modified modified=3 saved=- rule=IPF008 fixable=maybe", "fixable"),
    ("# inplace-fix-expect: kind=leaf-modified modified=3 saved=- rule=IPF008", "missing"),
    ("# inplace-fix-expect: kind=leaf-modified modified=3 saved=- rule=IPF008 fixable=no", "why"),
    ("# inplace-fix-expect: kind=leaf-modified modified=3 saved=- rule=- fixable=yes", "rule"),
    ("# inplace-fix-expect: kind=leaf-modified modified=x.py saved=- rule=IPF008 fixable=yes", "modified"),
    ("# something else", "first line"),
])
def test_header_parser_rejects_malformed(tmp_path, bad, why):
    p = tmp_path / "s.py"
    p.write_text(bad + "\n# pattern: p\nimport torch\n")
    with pytest.raises(check.HeaderError, match=why):
        check.parse_header(p)


def test_header_parser_reads_every_field(tmp_path):
    (tmp_path / "model.py").write_text("a = 1\nb = 2\n")
    p = tmp_path / "main.py"
    p.write_text("# inplace-fix-expect: kind=saved-tensor-modified modified=model.py:2 saved=5 "
                 "constructed=model.py:1 rule=IPF004 fixable=yes\n"
                 "# inplace-fix-expect: kind=silent-data-mutation modified=6 saved=5 rule=IPF005 fixable=yes "
                 "fix=IPF005@6,IPF002@model.py:2\n"
                 "# pattern: demo\n# args: --epochs 1 --name 'a b'\nx = 1\n")
    h = check.parse_header(p)
    assert h.args == ("--epochs", "1", "--name", "a b")
    first, second = h.expects
    assert first.modified == check.Site("model.py", 2) and first.saved == check.Site("main.py", 5)
    assert first.fix_sites() == (("IPF004", check.Site("model.py", 1)),)
    assert second.fix_sites() == (("IPF005", check.Site("main.py", 6)), ("IPF002", check.Site("model.py", 2)))


@pytest.fixture(scope="module")
def checker_report():
    if not hasattr(os, "fork"):
        pytest.skip("the fast checker runner needs os.fork")
    pytest.importorskip("torch")
    proc = subprocess.run([sys.executable, str(CHECK), "--runner", "fork", "--json"],
                          capture_output=True, text=True, timeout=900, cwd=REPO)
    assert proc.stdout.strip(), proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    return {r["name"]: r for r in report["results"]}


@pytest.mark.parametrize("path", FAILING + CLEAN, ids=_name)
def test_checker_passes(checker_report, path):
    result = checker_report[_name(path)]
    assert result["ok"], "\n".join(result["problems"])
