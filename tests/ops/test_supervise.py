"""infra/supervise.py with small real processes: backoff, what a dead child forked, stopping."""

import re
import time
from pathlib import Path

from infra import supervise as sup


def run_for(seconds: float, commands: dict[str, list[str]]) -> None:
    deadline = time.monotonic() + seconds
    sup.supervise(
        commands, env={"PATH": "/usr/bin:/bin"}, cwd=Path("/"), stopping=lambda: time.monotonic() > deadline
    )


def test_a_crashing_child_is_restarted_with_doubling_backoff_and_a_line_each_time(capsys):
    run_for(5.0, {"crasher": ["sh", "-c", "exit 3"]})  # starts at 0 s, ~1 s, ~3 s; the next at ~7 s
    log = capsys.readouterr().err
    assert len(re.findall(r"started crasher \(pid \d+\)", log)) == 3
    assert re.findall(r"crasher \(pid \d+\) exited with 3; restarting it in (\d+)s", log) == ["1", "2", "4"]


def test_the_backoff_starts_again_after_the_child_stayed_up(capsys, monkeypatch):
    monkeypatch.setattr(sup, "STABLE_AFTER", 0.3)
    run_for(4.0, {"flaky": ["sh", "-c", "sleep 0.5; exit 1"]})  # up 0.5 s each time: "stable"
    delays = re.findall(r"restarting it in (\d+)s", capsys.readouterr().err)
    assert len(delays) >= 2 and set(delays) == {"1"}


def test_what_a_dead_child_forked_dies_with_it(tmp_path, capsys):
    pidfile = tmp_path / "orphan.pid"
    run_for(0.8, {"parent": ["sh", "-c", f"sleep 60 & echo $! > {pidfile}; exit 1"]})
    orphan = int(pidfile.read_text())
    assert not Path(f"/proc/{orphan}").exists() or "Z" in Path(f"/proc/{orphan}/stat").read_text().split()[2]


def test_stopping_terminates_children_and_kills_one_that_ignores_sigterm(capsys, monkeypatch):
    monkeypatch.setattr(sup, "STOP_TIMEOUT", 1.0)
    started = time.monotonic()
    run_for(
        0.8, {"polite": ["sleep", "60"], "stubborn": ["sh", "-c", "trap '' TERM; sleep 60 & wait; sleep 60"]}
    )
    assert time.monotonic() - started < 5
    log = capsys.readouterr().err
    leaders = [int(pid) for pid in re.findall(r"started \w+ \(pid (\d+)\)", log)]
    assert len(leaders) == 2
    assert not [pid for pgid in leaders for pid in sup.group_pids(pgid)]
    assert "stubborn did not stop in time; killing it" in log
