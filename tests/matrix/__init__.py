"""The permission matrix: every endpoint, walked as anonymous, another practice, each role.

A domain adds its endpoints by writing `tests/matrix/rows_<domain>.py` with `ROWS` (a list of
`Row`) and, when its rows need objects, `build(world)` to add them to the shared World.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from services.organizations.models import Role

ALL_ROLES = tuple(r.value for r in Role)


@dataclass
class World:
    """Practice A with clinic `home` (every role held there) and clinic `away`; practice B apart."""

    org: Any
    home: Any
    away: Any
    users: dict[str, Any]  # role -> user of practice A at `home`
    outsider: Any  # org_admin of practice B
    objects: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Row:
    name: str
    method: str
    path: Callable[[World], str]
    allowed: frozenset[str]
    body: Callable[[World], dict] | None = None
    ok_status: int = 200
    # Whether the path names an object of practice A (another practice must get 404); list
    # endpoints instead return 200 without any of practice A's rows.
    names_object: bool = True
    portal: bool = False  # portal endpoints are walked by tests/matrix/test_portal_matrix.py
