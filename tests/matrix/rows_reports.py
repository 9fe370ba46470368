"""Matrix rows for the reports: each report as JSON and as CSV, for one clinic (another practice gets
404) and for the caller's whole reach (another practice sees none of practice A's clinics)."""

from api.reports.access import READ_ROLES
from tests.matrix import Row


def _rows(report: str, allowed: frozenset[str]) -> list[Row]:
    def one(fmt: str):
        return lambda w: (
            f"/api/v1/reports/{report}?location={w.home.public_id}&start=2030-03-01&end=2030-03-31{fmt}"
        )

    return [
        Row(f"reports.{report}", "get", one(""), allowed),
        Row(f"reports.{report}.csv", "get", one("&format=csv"), allowed),
        Row(
            f"reports.{report}.all", "get", lambda w: f"/api/v1/reports/{report}", allowed, names_object=False
        ),
    ]


ROWS = [
    row for report, roles in READ_ROLES.items() for row in _rows(report, frozenset(str(r) for r in roles))
]
ROWS.append(
    Row(
        "reports.attendance.appointments_csv",
        "get",
        lambda w: f"/api/v1/reports/attendance?location={w.home.public_id}&format=csv&rows=appointments",
        frozenset(str(r) for r in READ_ROLES["attendance"]),
    )
)
