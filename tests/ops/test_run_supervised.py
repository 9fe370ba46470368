"""`make run` as a user meets it: the real `python -m infra.devstack run` on a free port.

It heals (a killed worker is back within 10 s while the API keeps answering), `make manage`
attaches to it from a second shell that has none of its environment, and Ctrl-C/SIGTERM leaves
no process behind.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import dramatiq
import pytest

from infra.supervise import group_pids
from services.organizations.models import Organization
from tests.factories.clinics import LocationFactory
from tests.workers.support import ROOT, child_database_url, wait_for
from workers.middleware import HEARTBEAT_ALIVE_SECONDS, heartbeat_key


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RunningStack:
    """`python -m infra.devstack run --no-demo` against the suite's servers, its output collected."""

    def __init__(self, data_dir, port: int):
        self.port, self.data_dir = port, data_dir
        self.namespace = f"devstack-test-{os.getpid()}-{port}"
        env = {
            **os.environ,
            "DATABASE_URL": child_database_url(),
            "CHAIRSIDE_DATA_DIR": str(data_dir),
            "PORT": str(port),
            "DRAMATIQ_NAMESPACE": self.namespace,  # apart from a dev worker on the same Redis
            "EMAIL_FILE_PATH": str(data_dir / "mail"),
            "GUNICORN_WORKERS": "1",
        }
        env.pop("PUBLIC_BASE_URL", None)
        env.pop("METRICS_TOKEN", None)
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "infra.devstack", "run", "--no-demo"],
            env=env,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._collect, daemon=True).start()
        self.client = dramatiq.get_broker().client

    def _collect(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line)

    def started(self, name: str) -> list[int]:
        pattern = re.compile(rf"\[devstack\] started {name} \(pid (\d+)\)")
        return [int(m.group(1)) for line in list(self.lines) if (m := pattern.search(line))]

    def healthz(self) -> int:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=3) as r:  # noqa: S310
                return r.status
        except OSError:
            return 0

    def worker_pids(self) -> set[int]:
        """Dramatiq worker processes with a fresh heartbeat in this stack's namespace."""
        members = self.client.zrangebyscore(
            heartbeat_key(self.namespace), time.time() - HEARTBEAT_ALIVE_SECONDS, "+inf"
        )
        return {int(m.decode().rpartition(":")[2]) for m in members}

    def make_manage(self, args: str, **extra: str) -> subprocess.CompletedProcess:
        """`make manage ARGS=...` from a shell with nothing of the stack's environment."""
        env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), **extra}
        env["CHAIRSIDE_DATA_DIR"] = str(self.data_dir)
        return subprocess.run(
            ["make", "-s", "manage", f"ARGS={args}"],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def wait_for_new_worker(stack: RunningStack, old: set[int], killed_at: float) -> int:
    """A worker process not seen before heartbeats within 10 s; the API answers all along."""
    while time.monotonic() - killed_at < 10:
        assert stack.healthz() == 200, "the API stopped answering while the worker was down"
        new = stack.worker_pids() - old
        if new:
            print(f"worker back {time.monotonic() - killed_at:.1f}s after the kill")  # figures for -s runs
            return new.pop()
        time.sleep(0.2)
    pytest.fail(f"no new worker within 10 s; devstack said:\n{''.join(stack.lines[-30:])}")


@pytest.mark.django_db(transaction=True)
def test_make_run_restarts_a_killed_worker_and_stops_cleanly(tmp_path):
    stack = RunningStack(tmp_path, free_port())
    try:
        wait_for(lambda: stack.healthz() == 200 and stack.worker_pids(), timeout=120, what="the stack")
        first_worker = stack.worker_pids().pop()
        assert stack.started("worker") and stack.started("api") and stack.started("scheduler")

        # The Dramatiq worker process (the one running jobs): its parent exits, the supervisor restarts it.
        os.kill(first_worker, signal.SIGKILL)
        second_worker = wait_for_new_worker(stack, {first_worker}, time.monotonic())
        assert any(re.search(r"worker \(pid \d+\) exited with", line) for line in stack.lines)

        # The Dramatiq parent itself: the worker process it leaves behind dies with it.
        parent = stack.started("worker")[-1]
        os.kill(parent, signal.SIGKILL)
        third_worker = wait_for_new_worker(stack, {first_worker, second_worker}, time.monotonic())
        wait_for(lambda: not alive(second_worker), timeout=5, what="the orphaned worker process to go")
        assert len(stack.started("worker")) == 3 and len(stack.started("api")) == 1
        assert alive(third_worker)
    finally:
        stack.proc.send_signal(signal.SIGTERM)
        code = stack.proc.wait(timeout=60)
    assert code == 0
    leaders = [pid for name in ("api", "worker", "scheduler") for pid in stack.started(name)]
    assert not [pid for pgid in leaders for pid in group_pids(pgid)], "processes left behind"
    assert stack.healthz() == 0
    assert not (tmp_path / "stack.env").exists()


@pytest.mark.django_db(transaction=True)
def test_make_manage_runs_commands_on_the_running_stack_with_its_port_in_links(tmp_path):
    LocationFactory(name="Sacramento")
    stack = RunningStack(tmp_path, free_port())
    try:
        wait_for(lambda: stack.healthz() == 200, timeout=120, what="the stack")
        stack_env = tmp_path / "stack.env"
        assert stack_env.stat().st_mode & 0o777 == 0o600  # it holds the secret key

        # The README's command, from a second shell.
        created = stack.make_manage(
            "create_organization 'Lakeside Ketamine' --admin-email owner@lakeside.test "
            "--admin-password 'a-long-passphrase-2026'"
        )
        assert created.returncode == 0, created.stderr
        assert "Created Lakeside Ketamine" in created.stdout
        assert Organization.objects.filter(name="Lakeside Ketamine").exists()

        ran = stack.make_manage("run_job clinic.morning --clinic Sacramento")
        assert ran.returncode == 0, ran.stderr
        assert "clinic.morning: ran for Sacramento" in ran.stdout
        assert "clinic.morning x1" in ran.stdout

        show = "from django.conf import settings as s; print(s.PUBLIC_BASE_URL, bool(s.METRICS_TOKEN))"
        base = stack.make_manage(f"shell -v 0 -c '{show}'")
        assert base.stdout.split() == [f"http://127.0.0.1:{stack.port}", "True"]

        token = re.search(r"Authorization: Bearer (\S+)'", "".join(stack.lines)).group(1)
        request = urllib.request.Request(
            f"http://127.0.0.1:{stack.port}/metrics", headers={"Authorization": f"Bearer {token}"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            assert b"chairside_workers_alive" in response.read()
    finally:
        stack.proc.send_signal(signal.SIGTERM)
        stack.proc.wait(timeout=60)
    assert not stack_env.exists()

    # No stack running: `make manage` brings up what is unset (here nothing: the suite's servers
    # are exported), migrates, and runs the command.
    servers = {k: os.environ[k] for k in ("REDIS_URL", "STRIPE_API_KEY", "STRIPE_API_BASE")}
    alone = stack.make_manage(
        "run_job waitlist.sweep",
        DATABASE_URL=child_database_url(),
        DRAMATIQ_NAMESPACE=stack.namespace,
        **servers,
    )
    assert alone.returncode == 0, alone.stderr
    assert "using the running stack" not in alone.stderr
    assert "waitlist.sweep: done, result 0" in alone.stdout
