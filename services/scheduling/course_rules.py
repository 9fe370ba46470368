"""The rules of a course of treatment, and which of them a set of sessions breaks (pure functions).

A course's days and weeks are counted on its home clinic's calendar: "week 1" is the seven local
days from the first session's date, so a course begun on a Thursday runs Thursday to Wednesday.
"At least a day apart" compares wall-clock times on that calendar, so 09:00 on the Saturday and
09:00 on the Sunday of a DST change are a day apart even though 23 or 25 real hours pass.

- IV ketamine initial series: 6 infusions, 1 or 2 in every week of the course, within 4 weeks.
- Spravato induction (from the label): twice a week for weeks 1-4, so 8 sessions.

The numbers are the usual protocol; a practice with another one overrides them in settings
(`SCHEDULING_COURSE_RULES = {"iv_initial_series": {"sessions": 8, ...}}`).
"""

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from django.conf import settings

from services.core.errors import InvalidInput


@dataclass(frozen=True)
class CourseRules:
    kind: str
    label: str
    service_code: str
    sessions: int
    min_per_week: int  # in every week from the first session's to the last one's
    max_per_week: int
    weeks: int  # every session falls within this many weeks of the first
    min_gap: timedelta  # between consecutive sessions, on the clinic's wall clock

    def describe(self) -> str:
        per_week = (
            f"{self.max_per_week} a week"
            if self.min_per_week == self.max_per_week
            else f"{self.min_per_week} to {self.max_per_week} a week"
        )
        return (
            f"{self.sessions} sessions, {per_week}, within {self.weeks} weeks, "
            f"at least {_days(self.min_gap)} apart"
        )


DEFAULT_RULES = {
    "iv_initial_series": CourseRules(
        kind="iv_initial_series",
        label="IV ketamine initial series",
        service_code="iv_ketamine",
        sessions=6,
        min_per_week=1,
        max_per_week=2,
        weeks=4,
        min_gap=timedelta(days=1),
    ),
    "spravato_induction": CourseRules(
        kind="spravato_induction",
        label="Spravato induction",
        service_code="spravato",
        sessions=8,
        min_per_week=2,
        max_per_week=2,
        weeks=4,
        min_gap=timedelta(days=1),
    ),
}
KINDS = tuple(DEFAULT_RULES)


def _days(gap: timedelta) -> str:
    days = gap / timedelta(days=1)
    return "one day" if days == 1 else f"{days:g} days"


def course_rules(kind: str) -> CourseRules:
    rules = DEFAULT_RULES.get(kind)
    if rules is None:
        raise InvalidInput(f"Unknown course kind; expected one of {', '.join(KINDS)}.", field="kind")
    override = dict(getattr(settings, "SCHEDULING_COURSE_RULES", {}).get(kind, {}))
    if "min_gap_days" in override:
        override["min_gap"] = timedelta(days=override.pop("min_gap_days"))
    return replace(rules, **override) if override else rules


@dataclass(frozen=True)
class Violation:
    code: str
    message: str
    # What the violation is about (sessions by id, a week by its first day): a move is refused for
    # what it breaks, not for what an earlier cancellation had already left broken.
    key: tuple

    def __str__(self) -> str:
        return self.message


def week_start(first: date, day: date) -> date:
    return first + timedelta(days=7 * ((day - first).days // 7))


def course_violations(
    rules: CourseRules, sessions: list[tuple[object, datetime]], *, check_count: bool = True
) -> list[Violation]:
    """Every rule that `sessions` ((id, start in the course's zone), any order) break, in clinic terms.

    Sessions are numbered 1..n by start, as staff see them in the course.
    """
    ordered = sorted(sessions, key=lambda s: s[1])
    out: list[Violation] = []
    if not ordered:
        return [
            Violation("course-size", f"A {rules.label} has {rules.sessions} sessions; none given.", ("n",))
        ]
    if check_count and len(ordered) != rules.sessions:
        out.append(
            Violation(
                "course-size",
                f"A {rules.label} has {rules.sessions} sessions, not {len(ordered)}.",
                ("n",),
            )
        )
    walls = [start.replace(tzinfo=None) for _, start in ordered]  # the clinic's wall clock
    for i in range(1, len(ordered)):
        if walls[i] - walls[i - 1] < rules.min_gap:
            out.append(
                Violation(
                    "course-spacing",
                    f"Sessions {i} and {i + 1} would be less than {_days(rules.min_gap)} apart "
                    f"({walls[i - 1]:%Y-%m-%d %H:%M} and {walls[i]:%Y-%m-%d %H:%M}).",
                    ("gap", ordered[i - 1][0], ordered[i][0]),
                )
            )
    first = walls[0].date()
    last = walls[-1].date()
    limit = first + timedelta(days=7 * rules.weeks)
    if last >= limit:
        out.append(
            Violation(
                "course-too-long",
                f"The course would exceed {rules.weeks} weeks: session {len(ordered)} on {last} is after "
                f"{limit - timedelta(days=1)}, {rules.weeks} weeks from the first on {first}.",
                ("span",),
            )
        )
    counts: dict[date, int] = {}
    for wall in walls:
        week = week_start(first, wall.date())
        counts[week] = counts.get(week, 0) + 1
    week = first
    while week <= last:
        count = counts.get(week, 0)
        if count > rules.max_per_week:
            out.append(
                Violation(
                    "course-week-full",
                    f"More than {rules.max_per_week} sessions in the week of {week} ({count}).",
                    ("week-max", week),
                )
            )
        elif count < rules.min_per_week:
            have = "No session" if count == 0 else f"Only {count} session{'s' if count > 1 else ''}"
            out.append(
                Violation(
                    "course-week-short",
                    f"{have} in the week of {week}; a {rules.label} needs at least "
                    f"{rules.min_per_week} a week.",
                    ("week-min", week),
                )
            )
        week += timedelta(days=7)
    return out
