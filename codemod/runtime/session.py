"""One diagnose run: wires the registry, tracker, module sites and recorder together.

Why a separate object: launch.py only deals with argv/sys.path/runpy; this holds the
run's state (problems, backward calls) and the three patched entry points of
backward (Tensor.backward, torch.autograd.backward, torch.autograd.grad), which
count calls, stop the script cleanly, and attach "who needs the old value".

Stopping never makes a passing piece of the user's code fail. A script is stopped with
StopRun (after --steps backward calls, or at the first problem), which unwinds to
launch.py. A test runner (`keep_running`: pytest, unittest, the in-process tracker)
catches every exception of a test, so there a StopRun would fail a passing test: the run
is never stopped, there is no step limit, and a problem re-raises torch's own error
unchanged. A StopRun that the script swallowed (an `except BaseException` of a runner we
did not recognise) switches the session to `keep_running` for the rest of the run.
"""
from __future__ import annotations

import sys
import warnings
import weakref
from typing import Any, Iterator, Optional

import torch

from . import frames as frames_mod
from . import messages
from .modules import ModuleSites
from .mutation_tracker import MutationTracker, StopRun, strip_dispatch_frames
from .recorder import Recorder, leaves_below, leaves_of
from .saved_registry import SavedRegistry


class Problem:
    """Raw facts of one problem; report.py turns it into JSON."""

    def __init__(self, kind: str, **kw: Any) -> None:
        self.kind = kind
        self.error: Optional[str] = kw.get("error")
        self.saved_site = kw.get("saved_site")
        self.saved_op: Optional[str] = kw.get("saved_op")
        self.saved_role: Optional[dict] = kw.get("saved_role")  # what the saved tensor was to the saving op
        self.saved_at_resolved: Optional[dict] = kw.get("saved_at_resolved")
        self.modified_site = kw.get("modified_site")
        self.modified_op: Optional[str] = kw.get("modified_op")
        self.library = kw.get("library") or []
        self.construction = kw.get("construction")
        self.module: Optional[str] = kw.get("module")
        self.rule: Optional[str] = kw.get("rule")
        self.tensor: dict = kw.get("tensor") or {}
        self.needed_by: Optional[str] = kw.get("needed_by")
        self._grad_of: Optional[list] = kw.get("grad_of")
        self._grad_leaves: Optional[list] = None  # [(weakref or None, name when seen)], named late
        self._recorder: Optional[Recorder] = None
        # what was written into a leaf: {"requires_grad", "grad_fn"} of the value operands
        self.written_value: Optional[dict] = kw.get("written_value")
        self.backward_call: Optional[int] = kw.get("backward_call")
        self.rid: Optional[int] = kw.get("rid")
        self.detected_by: str = kw.get("detected_by", "tracker")
        self.anomaly_saved_at: Optional[dict] = None
        self.view_site = kw.get("view_site")
        self.view_site_resolved: Optional[dict] = None
        self.seq: int = kw.get("seq", 0)
        # the other writes between save and use: [(site, op)], the first write is modified_site
        self.also_modified: list = kw.get("also_modified") or []

    @property
    def grad_of(self) -> Optional[list]:
        """The keys of the leaves whose gradient needs the old value, named as late as possible.

        A leaf seen at a forward write may belong to a layer not yet attached to the model
        (`setattr` after building it); the recording names it where it sits at backward, and
        so must the report. Leaves still alive are named now, the others by the last name
        `settle` saw.
        """
        if self._grad_leaves is None or self._recorder is None:
            return self._grad_of
        alive = [ref() for ref, _last in self._grad_leaves]
        names = self._recorder.param_names_now() if any(t is not None for t in alive) else {}
        out = []
        for t, (_ref, last) in zip(alive, self._grad_leaves):
            name = names.get(id(t)) if t is not None else None
            if name is None and t is not None and last is None:
                name = self._recorder.key(t)  # a plain leaf: its "leaf#k" key
            out.append(name or last)
        return [name for name in out if name is not None]

    @grad_of.setter
    def grad_of(self, value: Optional[list]) -> None:
        self._grad_of, self._grad_leaves = value, None

    def name_leaves(self, leaves: list, recorder: Recorder) -> None:
        """Remember the leaves for `grad_of`, named now and again at every `settle`."""
        refs = []
        for t in leaves:
            try:
                ref: Any = weakref.ref(t)
            except TypeError:
                ref = (lambda t=t: t)
            refs.append((ref, recorder.key(t)))  # its key now: a plain leaf's `leaf#k` if it dies before the report
        self._grad_leaves, self._recorder = refs, recorder
        self.settle(recorder.param_names_now())

    def settle(self, names: dict) -> None:
        """Note the leaves' parameter names as of now (`names`: id -> qualified name)."""
        if self._grad_leaves is None:
            return
        settled = []
        for ref, last in self._grad_leaves:
            t = ref()
            settled.append((ref, names.get(id(t), last) if t is not None else last))
        self._grad_leaves = settled

    def names_leaves(self) -> bool:
        """`grad_of` is named from live leaves (not a list fixed when the problem was found)."""
        return self._grad_leaves is not None

    def has_grad_of(self) -> bool:
        return self._grad_leaves is not None or self._grad_of is not None

    def key(self) -> tuple:
        """One problem per (write, save) pair: the write's place and the saving *line*.

        Two ops of one line that both saved the tensor (`h * w + h.sin()`), or two backward
        nodes holding the same pair, are one problem; a second saving line is another pair.
        Parameters are the exception: one write that changes many saved weights (an
        optimizer step, a clamp over `parameters()`) is one problem naming them all, not
        one per layer.
        """
        if self.tensor.get("parameter") and self.modified_site is not None:
            saved: Any = "parameters"
        elif self.saved_site is not None:
            saved = _site_key(self.saved_site, with_col=False)
        elif self.saved_at_resolved:
            saved = (self.saved_at_resolved.get("file"), self.saved_at_resolved.get("line"), None)
        else:
            saved = None
        return (self.kind, _site_key(self.modified_site, with_col=True), saved)

    def merge(self, other: "Problem") -> None:
        """Keep the other writes a duplicate of this problem saw (another record, the same pair)."""
        name = other.tensor.get("name")
        if other.tensor.get("parameter") and name and name != self.tensor.get("name"):
            others = self.tensor.setdefault("other_parameters", [])
            if name not in others:
                others.append(name)
        seen = {_site_key(s, with_col=False) for s, _op in self.also_modified}
        seen.add(_site_key(self.modified_site, with_col=False))
        for site, op in other.also_modified:
            where = _site_key(site, with_col=False)
            if where not in seen:
                seen.add(where)
                self.also_modified.append((site, op))


def _site_key(site: Any, with_col: bool) -> Any:
    """(file, line, col or None) of a (code, lasti) site; lasti itself without positions."""
    if site is None:
        return None
    code, lasti = site
    try:
        line, _end, col, _end_col = list(code.co_positions())[lasti // 2]
    except Exception:
        line = col = None
    if line is None:
        return (code.co_filename, code.co_firstlineno, code.co_name, lasti)
    return (code.co_filename, line, col if with_col else None)


def _other_writes(rec: Any, first: Any) -> list:
    """The writes after `first` that also moved the saved tensor's version, one per line."""
    seen = {_site_key(first.site, with_col=False)} if first is not None else set()
    out = []
    for hit in rec.hits:
        if hit is first or hit.silent or hit.site is None:
            continue
        where = _site_key(hit.site, with_col=False)
        if where not in seen:
            seen.add(where)
            out.append((hit.site, hit.op))
    return out


def written_value(args: tuple, kwargs: dict, targets: list) -> Optional[dict]:
    """Whether the value written into a tensor is itself tracked by autograd (None: no tensor operand).

    `p -= lr * g` with `g` from `autograd.grad(create_graph=True)` writes a value with a
    graph: the user means a differentiable update, and doing it under `torch.no_grad()`
    would drop that graph. `p -= lr * p.grad` writes a detached value (an optimizer step).
    """
    written = {id(t) for t in targets if isinstance(t, torch.Tensor)}
    memory = {_storage(t) for t in targets if isinstance(t, torch.Tensor)}
    # an alias of the written tensor is its own old value (`b[:, 4] += c` writes b[:, 4] back)
    operands = [a for a in _flat(list(args) + [v for k, v in (kwargs or {}).items() if k != "out"])
                if isinstance(a, torch.Tensor) and id(a) not in written and _storage(a) not in memory]
    if not operands:
        return None
    tracked = next((a for a in operands if a.requires_grad), None)
    grad_fn = tracked.grad_fn if tracked is not None else None
    return {"requires_grad": tracked is not None, "grad_fn": type(grad_fn).__name__ if grad_fn is not None else None}


def _storage(t: torch.Tensor) -> Any:
    try:
        return t.untyped_storage().data_ptr()
    except Exception:  # a tensor without storage (meta, functional wrappers)
        return ("id", id(t))


def _flat(items: list) -> Iterator[Any]:
    for item in items:
        if isinstance(item, (list, tuple)):
            yield from item
        else:
            yield item


def _tensor_info(t: torch.Tensor, saved: Optional[int], now: Optional[int]) -> dict:
    return {"shape": list(t.shape), "dtype": str(t.dtype).replace("torch.", ""),
            "device": t.device.type, "name": None, "version_saved": saved, "version_now": now}


def _nodes_with_saved_records(roots: list) -> Iterator[tuple[Any, Any]]:
    """Each autograd node reachable from `roots` that holds our saved-tensor records, with their ids."""
    seen: set[int] = set()
    stack = [r.grad_fn for r in roots if isinstance(r, torch.Tensor) and r.grad_fn is not None]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        try:
            rids = node.metadata.get("ipf_rids")
        except Exception:
            rids = None
        if rids:
            yield node, rids
        stack.extend(nxt for nxt, _ in node.next_functions if nxt is not None)


class Session:
    def __init__(self, root: str, steps: int = 3, clone_on_write: bool = False,
                 anomaly: bool = False, recording: bool = False, track_views: bool = False,
                 nudger: Any = None, keep_running: bool = False,
                 frames: Optional[frames_mod.ProjectFrames] = None) -> None:
        self.frames = frames if frames is not None else frames_mod.ProjectFrames(root)
        self.steps = steps
        self.keep_running = keep_running  # never raise StopRun (see the module docstring)
        self._stop_raised = False  # a StopRun is unwinding (or was swallowed, if we run again)
        self._passed: list = []  # torch's errors we let through, so launch.py knows them
        self.clone_on_write = clone_on_write
        self.anomaly = anomaly
        self.recording = recording
        self.modules = ModuleSites(self.frames)
        self.registry = SavedRegistry(self.frames, self._on_saved_problem, clone_on_write)
        self.tracker = MutationTracker(self.registry, self.frames, self.modules,
                                       self._on_forward_error, clone_on_write)
        self.recorder = Recorder(self.modules.param_names)
        self.nudger = nudger  # finite_difference.Nudger in the float64 check's runs, else None
        if track_views:
            self.tracker.view_sites = {}
        self.problems: list[Problem] = []
        self.values_only_reference = False  # a forward write was replayed outside autograd
        self._by_key: dict = {}
        self.calls = 0
        self.depth = 0
        self.stopped_by: Optional[str] = None  # "steps" | "problem"
        self._origs: dict = {}
        self._anomaly_cm: Any = None

    # -- problems --------------------------------------------------------------
    def _add(self, p: Problem) -> bool:
        """Record `p` unless its (write, save) pair is already reported (then merge its writes)."""
        k = p.key()
        known = self._by_key.get(k)
        if known is not None:
            known.merge(p)
            return False
        self._by_key[k] = p
        self.problems.append(p)
        return True

    def _on_saved_problem(self, kind: str, rec: Any, hit: Any) -> None:
        t = rec.t
        p = Problem(kind, saved_site=rec.site, saved_op=rec.op, saved_role=rec.role, rid=rec.rid,
                    seq=hit.seq if hit is not None else 1 << 60,
                    needed_by=rec.needed_by, backward_call=self.calls + 1,
                    tensor=_tensor_info(t, rec.version, t._version))
        # a saved weight (often its transpose): the parameter's name, not the line's variable
        p.tensor["name"] = self.modules.param_name_of_storage(t)
        p.tensor["parameter"] = p.tensor["name"] is not None
        if kind == "saved-tensor-modified":
            p.error = messages.version_message(list(t.shape), str(t.dtype).replace("torch.", ""),
                                               t.device.type, t._version, rec.version,
                                               None).split(". Hint")[0]
        if hit is not None:
            p.modified_site, p.modified_op = hit.site, hit.op
            if kind == "saved-tensor-modified":
                p.also_modified = _other_writes(rec, hit)
            p.library, p.construction, p.module, p.rule = hit.library, hit.construction, hit.module, hit.rule
            if kind == "silent-data-mutation":
                p.rule = "IPF005"
        self._add(p)

    def _on_forward_error(self, kind: str, err: RuntimeError, w: tuple, func: Any, args: tuple,
                          kwargs: dict, frame: Any) -> Any:
        __tracebackhide__ = True  # noqa: F841 - pytest shows the user's line, not ours
        self._check_swallowed()
        op, rule, ts = w
        site, lib = self.frames.capture(frame, with_library=True)
        lib = strip_dispatch_frames(lib, func)
        construction, module = self.modules.inplace_module_for(frame)
        msg = str(err)
        if construction is not None or module is not None:
            rule = "IPF004"
        elif kind == "leaf-modified" or messages.LEAF_VIEW_MARK in msg:
            rule = "IPF008"
        if not lib and construction is None:
            aug = frames_mod.augmented_op(site)
            if aug is not None:
                op = aug
                if rule != "IPF008":
                    rule = "IPF001"
        t = next((x for x in ts if isinstance(x, torch.Tensor)), None)
        p = Problem(kind, error=messages.first_line(msg), modified_site=site, modified_op=op,
                    library=lib, construction=construction, module=module, rule=rule,
                    backward_call=self.calls + 1 if self.calls else None,
                    tensor=_tensor_info(t, None, t._version) if t is not None else {})
        self.registry.seq += 1
        p.seq = self.registry.seq
        if kind == "view-modified" and t is not None:
            self._locate_view(p, t, msg)
        if kind == "leaf-modified" and t is not None:
            p.name_leaves([t], self.recorder)
        leaf_write = kind == "leaf-modified" or rule == "IPF008"
        if leaf_write:
            p.written_value = written_value(args, kwargs, ts)
        self._add(p)
        tracked = bool(p.written_value and p.written_value.get("requires_grad"))
        if self.clone_on_write and leaf_write and not tracked:
            # reference semantics of the IPF008 fix: the same update, outside autograd. A
            # tracked value is a differentiable update: no_grad would not be what it means
            with torch.no_grad():
                return func(*args, **kwargs)
        if self.clone_on_write and kind == "view-modified" and not (leaf_write and tracked):
            # the values the program means: the write replayed outside autograd. The losses
            # that follow are the oracle for a fix; the gradients are not (autograd missed the write)
            self.values_only_reference = True
            with torch.no_grad():
                return func(*args, **kwargs)
        self.stopped_by = "problem"
        if self.keep_running:
            self._pass(err)
            raise err
        self._stop()

    # -- stopping --------------------------------------------------------------
    def _stop(self) -> None:
        """Unwind the script to launch.py (only when not `keep_running`)."""
        self._stop_raised = True
        raise StopRun()

    def _check_swallowed(self) -> None:
        """We run again after a StopRun: the script caught it, so it must not see another."""
        if self._stop_raised:
            self._stop_raised = False
            self.keep_running = True

    def _pass(self, err: BaseException) -> None:
        self._passed = (self._passed + [err])[-16:]

    def owns(self, exc: BaseException) -> bool:
        """`exc` is (or was raised while handling) torch's error for a problem we recorded.

        Why: under `keep_running` that error reaches the script, which may let it end the
        run; it is the problem found, not "the script failed for another reason".
        """
        seen: set[int] = set()
        cur: Optional[BaseException] = exc
        while cur is not None and id(cur) not in seen:
            if any(cur is err for err in self._passed):
                return True
            seen.add(id(cur))
            cur = cur.__cause__ or cur.__context__
        return False

    def _locate_view(self, p: Problem, t: torch.Tensor, msg: str) -> None:
        """Where the view was created: anomaly metadata of its grad_fn (walking down the
        chain of view nodes for a view of a leaf), else the tracked creation site."""
        try:
            node = t.grad_fn
        except RuntimeError:  # a multi-output view already written (replayed outside autograd)
            node = None
        if node is not None:
            p.needed_by = type(node).__name__
        if node is None:
            p.view_site = self.tracker.view_site(t)
            return
        chosen = None
        n = node
        while n is not None:
            try:
                tb = n.metadata.get("traceback_")
            except Exception:
                tb = None
            if tb:
                chosen = tb
            if messages.LEAF_VIEW_MARK not in msg:
                break
            nxt = [x for x, _ in n.next_functions if x is not None]
            if len(nxt) != 1 or type(nxt[0]).__name__ not in VIEW_NODES:
                break
            n = nxt[0]
        if chosen:
            text = chosen if isinstance(chosen, str) else "".join(chosen)
            p.view_site_resolved = frames_mod.site_from_traceback_text(text, self.frames)
            p.detected_by = "anomaly"

    def _scan_graph(self, roots: list) -> None:
        """After a failed backward: every other saved tensor of this graph that was
        modified is a problem too (two bugs in one forward are both reported)."""
        rids: set[int] = set()
        for _node, got in _nodes_with_saved_records(roots):
            rids.update(got)
        if not rids:
            return
        for rec in sorted(self.registry.live_records(), key=lambda r: r.rid):
            if rec.rid not in rids or rec.reported or rec.clone is not None:
                continue
            if rec.t._version != rec.version:
                hit = next((h for h in rec.hits if h.version_before == rec.version and not h.silent), None)
                if hit is None:
                    hit = next((h for h in rec.hits if not h.silent), None)
                rec.reported = True
                self._on_saved_problem("saved-tensor-modified", rec, hit)
            else:
                silent = next((h for h in rec.hits if h.silent), None)
                if silent is not None:
                    rec.reported = True
                    self._on_saved_problem("silent-data-mutation", rec, silent)

    def _attach_grad_of(self, roots: list, first: int) -> None:
        want = {p.rid: p for p in self.problems[first:] if p.rid is not None and not p.has_grad_of()}
        if not want:
            return
        for node, rids in _nodes_with_saved_records(roots):
            for rid in [r for r in rids if r in want]:
                p = want.pop(rid)
                p.needed_by = p.needed_by or type(node).__name__
                p.name_leaves(leaves_below([node]), self.recorder)
            if not want:
                return

    def _settle_names(self) -> None:
        """At a backward call: every problem's leaves take the names the recording gives them."""
        pending = [p for p in self.problems if p.names_leaves()]
        if pending:
            names = self.recorder.param_names_now()
            for p in pending:
                p.settle(names)

    # -- backward entry points -------------------------------------------------
    def _wrap(self, orig: Any, kind: str) -> Any:
        sess = self

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            __tracebackhide__ = True  # noqa: F841 - pytest shows the user's call, not this frame
            if sess.depth:
                return orig(*args, **kwargs)
            sess._check_swallowed()
            roots, inputs = _roots(kind, args, kwargs)
            leaves = leaves_of(roots) if sess.recording and kind != "grad" else None
            first = len(sess.problems)
            if sess.nudger is not None:
                sess.nudger.before_backward(kind, roots, _explicit_gradient(kind, args, kwargs))
            sess.depth = 1
            caught: list = []
            try:
                if sess.anomaly:
                    with warnings.catch_warnings(record=True) as caught:
                        warnings.simplefilter("always")
                        result = orig(*args, **kwargs)
                else:
                    result = orig(*args, **kwargs)
            except RuntimeError as e:
                sess.depth = 0
                if len(sess.problems) == first:
                    k = messages.classify(str(e))
                    if k is None:
                        raise
                    sess._problem_from_message(k, e, caught)
                else:
                    sess._anomaly_cross_check(first, caught)
                    sess._scan_graph(roots)
                sess._attach_grad_of(roots, first)
                sess._settle_names()
                sess.stopped_by = "problem"
                if sess.keep_running:
                    sess._pass(e)
                    raise  # torch's own error, as the user's code would see it without us
                sess._stop_raised = True
                raise StopRun() from e
            finally:
                sess.depth = 0
                sess.registry.sweep()
            sess.calls += 1
            sess._settle_names()
            if sess.nudger is not None:
                sess.nudger.after_backward(roots)
            if sess.recording:
                if kind == "grad":
                    sess.recorder.after_grad(roots, inputs, result)
                else:
                    sess.recorder.after_backward(roots, leaves or [])
            if len(sess.problems) > first:
                sess._attach_grad_of(roots, first)
                if not sess.clone_on_write and not sess.keep_running:
                    sess.stopped_by = "problem"
                    sess._stop()
            if sess.calls >= sess.steps and not sess.keep_running:
                sess.stopped_by = "steps"
                sess._stop()
            return result

        wrapper.__wrapped__ = orig  # type: ignore[attr-defined]
        wrapper.__name__ = getattr(orig, "__name__", "backward")
        wrapper.__doc__ = getattr(orig, "__doc__", None)
        return wrapper

    def _problem_from_message(self, kind: str, err: RuntimeError, caught: list) -> None:
        info = messages.parse(str(err))
        p = Problem(kind, error=messages.first_line(str(err)), backward_call=self.calls + 1,
                    detected_by="message",
                    tensor={"shape": info["shape"], "dtype": info["dtype"], "device": info["device"],
                            "name": None, "version_saved": info["version_saved"],
                            "version_now": info["version_now"]})
        p.needed_by = None
        p.saved_at_resolved = self._anomaly_site(caught)
        if p.saved_at_resolved is not None:
            p.detected_by = "anomaly"
        self._add(p)

    def _anomaly_site(self, caught: list) -> Optional[dict]:
        for w in caught or []:
            text = str(w.message)
            if "Traceback of forward call" in text or "Error detected in" in text:
                site = frames_mod.site_from_traceback_text(text, self.frames)
                if site is not None:
                    import re

                    m = re.search(r"Error detected in (\w+)", text)
                    site["needed_by"] = m.group(1) if m else None
                    return site
        return None

    def _anomaly_cross_check(self, first: int, caught: list) -> None:
        if not self.anomaly:
            return
        site = self._anomaly_site(caught)
        for p in self.problems[first:]:
            p.anomaly_saved_at = site

    # -- install / uninstall ---------------------------------------------------
    def install(self) -> None:
        self.modules.install()
        import torch.autograd as ag

        self._origs = {"Tensor.backward": torch.Tensor.backward, "backward": ag.backward, "grad": ag.grad}
        torch.Tensor.backward = self._wrap(torch.Tensor.backward, "tensor")  # type: ignore[method-assign]
        ag.backward = self._wrap(ag.backward, "backward")
        ag.grad = self._wrap(ag.grad, "grad")
        if self.anomaly:
            self._anomaly_cm = torch.autograd.set_detect_anomaly(True)
        self.registry.hooks.__enter__()
        self.tracker.__enter__()
        if self.nudger is not None:
            self.nudger.__enter__()

    def uninstall(self) -> None:
        if self.nudger is not None:
            try:
                self.nudger.__exit__(None, None, None)
            except Exception:
                pass
        try:
            self.tracker.__exit__(None, None, None)
        except Exception:
            pass
        try:
            self.registry.hooks.__exit__(None, None, None)
        except Exception:
            pass
        if self._anomaly_cm is not None:
            self._anomaly_cm.__exit__(None, None, None)
        import torch.autograd as ag

        if self._origs:
            torch.Tensor.backward = self._origs["Tensor.backward"]  # type: ignore[method-assign]
            ag.backward = self._origs["backward"]
            ag.grad = self._origs["grad"]
        self.modules.uninstall()


VIEW_NODES = frozenset({
    "ViewBackward0", "SelectBackward0", "SliceBackward0", "AsStridedBackward0", "TBackward0",
    "TransposeBackward0", "PermuteBackward0", "ExpandBackward0", "UnsqueezeBackward0",
    "SqueezeBackward0", "SqueezeBackward1", "UnbindBackward0", "SplitBackward0",
    "SplitWithSizesBackward0", "NarrowBackward0", "DiagonalBackward0", "UnfoldBackward0",
    "AliasBackward0", "ViewAsRealBackward0", "ViewAsComplexBackward0", "ReshapeAliasBackward0",
    "UnsafeViewBackward0", "ChunkBackward0", "IndexBackward0",
})


def _roots(kind: str, args: tuple, kwargs: dict) -> tuple[list, list]:
    if kind == "tensor":
        return [args[0]] if args else [kwargs.get("self")], []
    first = args[0] if args else kwargs.get("tensors", kwargs.get("outputs"))
    roots = [first] if isinstance(first, torch.Tensor) else list(first or [])
    inputs: list = []
    if kind == "grad":
        inp = args[1] if len(args) > 1 else kwargs.get("inputs")
        inputs = [inp] if isinstance(inp, torch.Tensor) else list(inp or [])
    return roots, inputs


def _explicit_gradient(kind: str, args: tuple, kwargs: dict) -> Any:
    """The `gradient=` / `grad_tensors=` a backward call passes, if any."""
    if kind == "tensor":
        return args[1] if len(args) > 1 else kwargs.get("gradient")
    if kind == "backward":
        return args[1] if len(args) > 1 else kwargs.get("grad_tensors")
    return args[2] if len(args) > 2 else kwargs.get("grad_outputs")


def current_python() -> str:
    return sys.executable
