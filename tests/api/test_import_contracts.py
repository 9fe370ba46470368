"""The layers hold: `api -> services <- workers`, and the three frameworks stay in their layer
(`rest_framework` in api/, `dramatiq` in workers/, `stripe` in services/billing/stripe_gateway.py).

Every import statement is read from the source (AST), including imports inside functions, so a
lazy import cannot slip past.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("api", "services", "workers", "infra")

# top-level module -> where it may be imported (path prefixes relative to the repository)
CONFINED = {
    "rest_framework": ("api/",),
    "drf_spectacular": ("api/",),
    "dramatiq": ("workers/",),
    "stripe": ("services/billing/stripe_gateway.py",),
}
# package -> the project packages it must never import
FORBIDDEN = {
    "services": ("api", "workers"),
    "workers": ("api",),
    "api": ("workers",),
}


def imported_modules(source: str) -> list[tuple[int, str]]:
    """(line, absolute module name) for every import in `source`; relative imports are skipped
    (they stay inside their own package)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


def violations(relative: str, source: str) -> list[str]:
    package = relative.split("/", 1)[0]
    out = []
    for line, module in imported_modules(source):
        top = module.split(".", 1)[0]
        allowed = CONFINED.get(top)
        if allowed is not None and not relative.startswith(allowed):
            out.append(f"{relative}:{line} imports {module} (only in {', '.join(allowed)})")
        if top in FORBIDDEN.get(package, ()):
            out.append(f"{relative}:{line}: {package} imports {module}")
    return out


def project_files():
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            yield path.relative_to(ROOT).as_posix(), path


def test_the_walk_reads_the_project():
    files = [relative for relative, _ in project_files()]
    assert "services/billing/stripe_gateway.py" in files and len(files) > 100


def test_no_layer_is_crossed():
    found = [v for relative, path in project_files() for v in violations(relative, path.read_text())]
    assert not found, "\n".join(found)


@pytest.mark.parametrize(
    ("relative", "source"),
    [
        ("services/patients/services.py", "from api.serializers import PublicIdField"),
        ("services/core/outbox.py", "def publish():\n    import workers.tasks\n"),
        ("services/billing/services.py", "import stripe"),
        ("services/billing/services.py", "from stripe import PaymentIntent"),
        ("api/billing/cards.py", "import stripe.error"),
        ("services/scheduling/services.py", "from rest_framework.exceptions import ValidationError"),
        ("services/core/outbox.py", "import dramatiq"),
        ("api/ops.py", "from dramatiq import get_broker"),
        ("workers/actors/billing.py", "from rest_framework import serializers"),
        ("workers/actors/billing.py", "from api.billing.common import source_key_from"),
        ("api/portal/staff.py", "from workers.tasks import enqueue"),
        ("infra/settings.py", "import stripe"),
    ],
)
def test_each_kind_of_crossing_is_caught(relative, source):
    assert violations(relative, source), f"{source!r} in {relative} should be refused"


@pytest.mark.parametrize(
    ("relative", "source"),
    [
        ("services/billing/stripe_gateway.py", "import stripe"),
        ("workers/actors/billing.py", "import dramatiq\nfrom services.billing import services"),
        ("api/billing/cards.py", "from rest_framework import mixins\nfrom services.billing import selectors"),
        ("services/patients/services.py", "from .models import Patient\nfrom services.core import clock"),
    ],
)
def test_what_belongs_to_a_layer_is_allowed(relative, source):
    assert violations(relative, source) == []
