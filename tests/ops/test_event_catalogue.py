"""Event names live in one catalogue per domain (services/<domain>/event_names.py).

So that grep finds every producer and handler of an event, no producer or registration spells a
name itself: a string literal (or an f-string) where an event name goes fails here, and every
name a handler is registered for must be declared in a catalogue.
"""

import ast
import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CATALOGUES = sorted(ROOT.glob("services/*/event_names.py"))
NAME = re.compile(r"^[a-z_]+(\.[a-z_]+)+$")


def declared() -> dict[str, str]:
    """Every event name declared in a catalogue -> the constant's dotted path."""
    names: dict[str, str] = {}
    for path in CATALOGUES:
        module = importlib.import_module(".".join(path.relative_to(ROOT).with_suffix("").parts))
        for attr, value in vars(module).items():
            if attr.isupper() and isinstance(value, str):
                assert value not in names, (
                    f"{value} is declared twice: {names[value]} and {module.__name__}.{attr}"
                )
                names[value] = f"{module.__name__}.{attr}"
    return names


def python_files(*tops: str):
    for top in tops:
        yield from (p for p in (ROOT / top).rglob("*.py") if "migrations" not in p.parts)


def _spelt(node: ast.AST | None) -> bool:
    return isinstance(node, ast.JoinedStr) or (isinstance(node, ast.Constant) and isinstance(node.value, str))


def _calls(func_name: str):
    """(file:line, call) for every call of `func_name` in services/, workers/ and api/."""
    for path in python_files("services", "workers", "api"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Call):
                callee = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
                if callee == func_name:
                    yield f"{path.relative_to(ROOT)}:{node.lineno}", node


def test_every_catalogue_declares_well_formed_names():
    names = declared()
    assert len(CATALOGUES) >= 8 and len(names) >= 50
    assert not [n for n in names if not NAME.match(n)]


def test_no_producer_spells_an_event_name():
    found = [
        where
        for where, call in _calls("event_record")
        for kw in call.keywords
        if kw.arg == "name" and _spelt(kw.value)
    ]
    assert found == [], "use a constant from services/<domain>/event_names.py"


def test_no_registration_spells_an_event_name():
    found = [where for where, call in _calls("handler") if call.args and _spelt(call.args[0])]
    assert found == [], "use a constant from services/<domain>/event_names.py"


def test_no_sql_spells_an_event_name():
    """A set-based producer (an INSERT into the outbox) passes the name as a parameter."""
    names = declared()
    found = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in python_files("services", "workers")
        if "core_outboxevent" in (text := path.read_text())
        for name in names
        if f"'{name}'" in text
    ]
    assert found == []


@pytest.mark.parametrize("module", ["workers.registry"])
def test_every_registered_handler_listens_to_a_declared_event(module):
    registry = importlib.import_module(module)
    names = declared()
    # Fault and worker tests register their own handlers under `test.*` in this same process.
    undeclared = sorted(n for n in set(registry.registered()) - set(names) if not n.startswith("test."))
    assert undeclared == []
    assert {"appointment.cancelled", "payment.failed", "stripe.event.received"} <= set(registry.registered())


def test_every_declared_event_has_a_producer():
    """A name nothing records is dead: grep must find its producer (a constant used outside the catalogue)."""
    sources = "\n".join(
        p.read_text() for p in python_files("services", "workers") if p.name != "event_names.py"
    )
    catalogue_text = "\n".join(p.read_text() for p in CATALOGUES)
    missing = []
    for name, dotted in declared().items():
        constant = dotted.rsplit(".", 1)[1]
        used_in_mapping = re.search(rf"^\s*\w+ = \{{[^}}]*\b{constant}\b", catalogue_text, re.M | re.S)
        if not re.search(rf"\b{constant}\b", sources) and not used_in_mapping:
            missing.append(name)
    assert missing == []
