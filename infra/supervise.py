"""Keep the dev stack's app processes running: `make run` supervises api, worker and scheduler.

A child that dies is started again after a backoff (1 s, doubling to 30 s; back to 1 s once it
had stayed up for a while), with a log line each time; the rest of the stack keeps running. A
stop request (SIGINT/SIGTERM in the devstack) stops every child and everything it forked.

Each child runs in its own session, so its process group holds the processes it forked (gunicorn's
and Dramatiq's worker processes). Signals go to the whole group: a Dramatiq parent killed with
SIGKILL leaves its worker processes behind, and those must not keep consuming beside the restart.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

FIRST_BACKOFF = 1.0
MAX_BACKOFF = 30.0
STABLE_AFTER = 60.0  # seconds up after which the next crash starts the backoff again at 1 s
STOP_TIMEOUT = 15.0


def log(message: str) -> None:
    print(f"[devstack] {message}", file=sys.stderr, flush=True)  # stdout: the commands' own output


def group_pids(pgid: int) -> list[int]:
    """Live (not zombie) processes in process group `pgid`, from /proc."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid pgrp ...": comm may hold spaces, so split after its ")".
        state, _ppid, pgrp = stat.rpartition(")")[2].split()[:3]
        if int(pgrp) == pgid and state != "Z":
            pids.append(int(entry.name))
    return pids


def signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass


@dataclass
class Child:
    name: str
    command: list[str]
    proc: subprocess.Popen | None = None
    started_at: float = 0.0
    failures: int = 0
    restart_at: float | None = None

    def start(self, env: dict[str, str], cwd: Path) -> None:
        self.proc = subprocess.Popen(self.command, env=env, cwd=cwd, start_new_session=True)  # noqa: S603
        self.started_at, self.restart_at = time.monotonic(), None
        log(f"started {self.name} (pid {self.proc.pid})")

    def backoff(self) -> float:
        if time.monotonic() - self.started_at >= STABLE_AFTER:
            self.failures = 0
        delay = min(FIRST_BACKOFF * 2**self.failures, MAX_BACKOFF)
        self.failures += 1
        return delay


def supervise(
    commands: dict[str, list[str]],
    env: dict[str, str],
    cwd: Path,
    stopping: Callable[[], bool],
    poll: float = 0.2,
) -> int:
    """Run `commands` (name -> argv) until `stopping()` is true, restarting any that exit."""
    children = [Child(name, command) for name, command in commands.items()]
    for child in children:
        child.start(env, cwd)
    while not stopping():
        now = time.monotonic()
        for child in children:
            if child.restart_at is not None:
                if now >= child.restart_at:
                    child.start(env, cwd)
                continue
            code = child.proc.poll()
            if code is None:
                continue
            signal_group(child.proc.pid, signal.SIGKILL)  # what it forked dies with it
            delay = child.backoff()
            log(f"{child.name} (pid {child.proc.pid}) exited with {code}; restarting it in {delay:.0f}s")
            child.restart_at = now + delay
        time.sleep(poll)
    stop_all(children)
    return 0


def stop_all(children: list[Child]) -> None:
    """SIGTERM to every group, then SIGKILL to whatever is left after STOP_TIMEOUT."""
    # Only the current groups: an earlier one was killed when its leader died.
    groups = [child.proc.pid for child in children if child.proc is not None and child.restart_at is None]
    for pgid in groups:
        signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    for child in children:
        if child.proc is not None and child.proc.poll() is None:
            try:
                child.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log(f"{child.name} did not stop in time; killing it")
    while any(group_pids(pgid) for pgid in groups) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pgid in groups:
        signal_group(pgid, signal.SIGKILL)
    for child in children:
        if child.proc is not None:
            child.proc.wait()
