"""Sits between the tool and the user's interpreter so the script's whole tree ends with the run.

Why a separate process: the tool cannot clean up after itself when it is killed with
SIGKILL (a cancelled CI job, the OOM killer) or frozen, and a script that double-forks
with `setsid` leaves its process group. This program is started by file path with the
tool's own interpreter (standard library only, nothing of the package is imported), in
a session of its own. It starts the real command in a process group of its own and
ends every remaining descendant when the command exits, when its deadline passes, when
it is signalled (SIGTERM, SIGINT, SIGHUP) and when the tool dies; then it removes the
run's scratch folders if the tool is gone, and reports how the run ended.

Usage:
    python supervisor.py [--timeout S] [--grace S] [--parent PID] [--status-fd FD]
                         [--scratch DIR]... -- COMMAND [ARG]...

--timeout S    stop the command's tree S seconds after the start (default: never)
--grace S      between SIGTERM and SIGKILL (default 2)
--parent PID   the tool's pid: when the supervisor's parent is no longer PID, the tool is gone
--status-fd FD write one JSON line there before exiting: {"returncode": int or null (a
               negative number is the signal that ended the command), "timed_out": bool,
               "reason": "exit" | "deadline" | "signal" | "parent-gone" | "error"}
--scratch DIR  a folder the run uses (`inplace-fix-*` only): removed on exit when the tool is gone

Exit code: the command's (128 + N when signal N ended it), 124 when the deadline
stopped it, 127 when it could not start. On Linux the supervisor is a child subreaper
(double-forked daemons reparent to it and are ended too) and gets SIGTERM when the tool
dies (PR_SET_PDEATHSIG; the command gets SIGKILL if the supervisor itself dies).
Elsewhere it polls its parent pid and ends the command's process group and the
descendants `ps` shows.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from typing import Any

IS_LINUX = sys.platform.startswith("linux")
PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
POLL_S = 0.2  # how often the parent pid and the deadline are looked at without a wake-up
SCRATCH_PREFIX = "inplace-fix-"
EXIT_DEADLINE = 124
EXIT_NOT_STARTED = 127
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


_PRCTL: list[Any] = []  # libc's prctl, looked up once (never between fork and exec)


def _load_prctl() -> Any:
    if not _PRCTL:
        function = None
        if IS_LINUX:
            try:
                import ctypes

                function = ctypes.CDLL(None, use_errno=True).prctl
            except (OSError, AttributeError, ImportError):
                function = None
        _PRCTL.append(function)
    return _PRCTL[0]


def _prctl(option: int, value: int) -> bool:
    """prctl(2) through libc; False where there is none (not Linux, no ctypes, refused)."""
    function = _load_prctl()
    return function is not None and function(option, value, 0, 0, 0) == 0


class Supervisor:
    """One command's run: its start, the wait for the first ending event, the end of its tree."""

    def __init__(self, command: list[str], *, timeout: float | None, grace: float, parent: int,
                 scratch: list[str]) -> None:
        self.command, self.grace, self.parent, self.scratch = command, grace, parent, scratch
        self.deadline = None if timeout is None else time.monotonic() + timeout
        self.received: list[int] = []
        self.child_pid: int | None = None
        self.child_status: int | None = None  # os.waitstatus_to_exitcode of the command
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)

    # -- signals -------------------------------------------------------------------------------

    def install_handlers(self) -> None:
        """Stop signals are recorded (the loop acts on them); SIGCHLD only wakes the loop up."""
        signal.set_wakeup_fd(self._wake_w, warn_on_full_buffer=False)
        for number in STOP_SIGNALS:
            signal.signal(number, self._on_stop)
        signal.signal(signal.SIGCHLD, lambda *_: None)

    def _on_stop(self, signum: int, frame: Any) -> None:
        self.received.append(signum)

    def parent_gone(self) -> bool:
        return os.getppid() != self.parent

    def _sleep(self, seconds: float) -> None:
        """Until a signal (a child's exit included) or `seconds` pass."""
        if seconds > 0:
            select.select([self._wake_r], [], [], seconds)
        try:
            while os.read(self._wake_r, 512):
                pass
        except (BlockingIOError, InterruptedError):
            pass

    # -- the command ---------------------------------------------------------------------------

    def start(self) -> None:
        me = os.getpid()
        _load_prctl()

        def in_child() -> None:  # after fork, before exec: a group of its own, dies with us
            os.setpgid(0, 0)
            _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
            if os.getppid() != me:
                os._exit(EXIT_NOT_STARTED)

        proc = subprocess.Popen(self.command, preexec_fn=in_child)
        self.child_pid = proc.pid
        proc.returncode = 0  # we reap it ourselves (waitpid(-1)); Popen must not wait for it again

    def reap(self) -> bool:
        """Collect every exited child (the command, and the orphans we adopted as subreaper);
        False when no child at all is left."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return False
            if pid == 0:
                return True
            if pid == self.child_pid and self.child_status is None:
                self.child_status = os.waitstatus_to_exitcode(status)

    def wait_for_event(self) -> str:
        """The first of: the command exits, a stop signal, the tool dies, the deadline passes."""
        while True:
            self.reap()
            if self.child_status is not None:
                return "exit"
            if self.received:
                return "parent-gone" if self.parent_gone() else "signal"
            if self.parent_gone():
                return "parent-gone"
            now = time.monotonic()
            if self.deadline is not None and now >= self.deadline:
                return "deadline"
            left = POLL_S if self.deadline is None else min(POLL_S, self.deadline - now)
            self._sleep(left)

    # -- the end of the tree -------------------------------------------------------------------

    def descendants(self) -> list[int]:
        """Living processes whose ancestry leads to us (zombies are dead: only reaping is left)."""
        table = _process_table()
        children: dict[int, list[int]] = {}
        for pid, (ppid, zombie) in table.items():
            if not zombie:
                children.setdefault(ppid, []).append(pid)
        out, todo = [], [os.getpid()]
        while todo:
            for pid in children.get(todo.pop(), ()):
                out.append(pid)
                todo.append(pid)
        return out

    def _group_alive(self) -> bool:
        """May the command's process group id still be signalled? While the command is unreaped its pid
        (the group id) cannot be reused; once reaped, Linux finds every survivor among our descendants
        (they reparent to us), elsewhere the group is the only handle on the orphans."""
        return self.child_pid is not None and (self.child_status is None or not IS_LINUX)

    def signal_tree(self, sig: int) -> None:
        if self._group_alive():
            _send(lambda: os.killpg(self.child_pid, sig))  # type: ignore[arg-type]
        for pid in self.descendants():
            _send(lambda pid=pid: os.kill(pid, sig))

    def end_tree(self, first: int) -> None:
        """`first` to the whole tree, up to `grace` seconds for it to go, then SIGKILL until none is left.

        SIGINT (the user's Ctrl-C, passed on) is the script's KeyboardInterrupt: the grace is for the
        command to unwind; whatever outlives it gets SIGTERM and a grace of its own.
        """
        self.signal_tree(first)
        if first == signal.SIGINT:
            self._await(lambda: self.child_status is not None, self.grace)
            self.signal_tree(signal.SIGTERM)
        self._await(lambda: not self.descendants(), self.grace)
        for _ in range(100):
            left = self.descendants()
            if self._group_alive():
                _send(lambda: os.killpg(self.child_pid, signal.SIGKILL))  # type: ignore[arg-type]
            if not left:
                break
            for pid in left:
                _send(lambda pid=pid: os.kill(pid, signal.SIGKILL))
            self._sleep(0.01)
            self.reap()
        self._drain_zombies()

    def _await(self, done: Any, seconds: float) -> None:
        """Until `done()`, `seconds` pass, or a second stop signal (an impatient user) cuts it short."""
        until, signals = time.monotonic() + seconds, len(self.received)
        while True:
            self.reap()
            if done() or time.monotonic() >= until or len(self.received) > max(1, signals):
                return
            self._sleep(min(0.05, until - time.monotonic()))

    def _drain_zombies(self) -> None:
        """Reap what is left; a killed process may take a moment to become reapable."""
        until = time.monotonic() + 1.0
        while self.reap() and time.monotonic() < until:
            self._sleep(0.01)

    def remove_scratch(self) -> None:
        """The tool removes its own folders; when it is gone, nobody else will."""
        if not self.parent_gone():
            return
        for folder in self.scratch:
            if os.path.basename(os.path.normpath(folder)).startswith(SCRATCH_PREFIX):
                shutil.rmtree(folder, ignore_errors=True)


def _send(kill: Any) -> None:
    try:
        kill()
    except (ProcessLookupError, PermissionError):
        pass


def _process_table() -> dict[int, tuple[int, bool]]:
    """pid -> (parent pid, zombie), from /proc where there is one, else from `ps`."""
    if os.path.isdir("/proc/self"):
        table: dict[int, tuple[int, bool]] = {}
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                with open(f"/proc/{name}/stat", "rb") as fh:
                    fields = fh.read().rsplit(b")", 1)[1].split()
            except OSError:
                continue
            table[int(name)] = (int(fields[1]), fields[0] in (b"Z", b"X"))
        return table
    try:
        proc = subprocess.Popen(["ps", "-A", "-o", "pid=", "-o", "ppid=", "-o", "stat="],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        text, _ = proc.communicate(timeout=10)
    except (OSError, subprocess.SubprocessError):
        return {}
    table = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[0].isdigit() and parts[1].isdigit() and int(parts[0]) != proc.pid:
            table[int(parts[0])] = (int(parts[1]), parts[2].startswith("Z"))
    return table


def _write_status(fd: int | None, status: dict[str, Any]) -> None:
    if fd is None:
        return
    try:
        os.write(fd, (json.dumps(status) + "\n").encode())
        os.close(fd)
    except OSError:
        pass


def _exit_code(status: dict[str, Any]) -> int:
    if status["timed_out"]:
        return EXIT_DEADLINE
    code = status["returncode"]
    if code is None:
        return EXIT_NOT_STARTED
    return 128 - code if code < 0 else code


def _parse(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    if "--" not in argv:
        raise SystemExit("supervisor: usage: supervisor.py [OPTIONS] -- COMMAND [ARG]...")
    at = argv.index("--")
    parser = argparse.ArgumentParser(prog="supervisor.py")
    parser.add_argument("--timeout", type=float, default=None)
    parser.add_argument("--grace", type=float, default=2.0)
    parser.add_argument("--parent", type=int, default=None)
    parser.add_argument("--status-fd", type=int, default=None)
    parser.add_argument("--scratch", action="append", default=[])
    options = parser.parse_args(argv[:at])
    command = argv[at + 1:]
    if not command:
        parser.error("no command after --")
    return options, command


def main(argv: list[str] | None = None) -> int:
    options, command = _parse(sys.argv[1:] if argv is None else argv)
    if options.status_fd is not None:
        os.set_inheritable(options.status_fd, False)  # the command must not hold it open
    parent = options.parent if options.parent is not None else os.getppid()
    sup = Supervisor(command, timeout=options.timeout, grace=options.grace, parent=parent,
                     scratch=options.scratch)
    sup.install_handlers()  # before PDEATHSIG: its SIGTERM must find the handler
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    status: dict[str, Any] = {"returncode": None, "timed_out": False, "reason": "parent-gone"}
    try:
        if not sup.parent_gone() and not sup.received:  # the tool may have died before PDEATHSIG was set
            try:
                sup.start()
            except (OSError, subprocess.SubprocessError) as exc:
                why = getattr(exc, "strerror", None) or exc
                sys.stderr.write(f"inplace-fix: cannot start {command[0]}: {why}\n")
                status["reason"] = "error"
            else:
                status["reason"] = sup.wait_for_event()
    finally:
        reason = status["reason"]
        if reason == "signal":
            sup.end_tree(sup.received[0])
        elif reason != "error":
            sup.end_tree(signal.SIGTERM)
        status["returncode"] = sup.child_status
        status["timed_out"] = reason == "deadline"
        _write_status(options.status_fd, status)
        sup.remove_scratch()
    return _exit_code(status)


if __name__ == "__main__":
    sys.exit(main())
