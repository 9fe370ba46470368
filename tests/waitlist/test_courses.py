"""The induction course search on its own: twice a week for four weeks, local time kept across DST."""

import zoneinfo
from datetime import UTC, date, datetime, time, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from services.waitlist.courses import ANY_TIME, CourseFinder, Preferences, Window

LA = zoneinfo.ZoneInfo("America/Los_Angeles")


def windows(days, chairs=(1,), at="09:00", providers=(7,)):
    out = []
    for d in days:
        start = datetime.combine(d, time.fromisoformat(at), tzinfo=LA).astimezone(UTC)
        out += [Window(start, start + timedelta(hours=2), c, tuple(providers)) for c in chairs]
    return out


def mondays_thursdays(first: date, weeks: int = 6):
    return [first + timedelta(days=7 * w + off) for w in range(weeks) for off in (0, 3)]


def test_a_course_across_spring_forward_stays_at_nine_local():
    finder = CourseFinder(windows(mondays_thursdays(date(2031, 3, 3))), "America/Los_Angeles")
    course = finder.find(
        ANY_TIME, earliest=datetime(2031, 3, 1, tzinfo=UTC), latest_first=datetime(2031, 3, 5, tzinfo=UTC)
    )
    assert course is not None and len(course) == 8
    local = [s.start.astimezone(LA) for s in course]
    assert {t.time() for t in local} == {time(9, 0)}
    assert {s.start.hour for s in course} == {16, 17}  # 17:00 UTC before DST, 16:00 after
    assert [t.weekday() for t in local] == [0, 3] * 4


def test_one_missing_session_means_no_course_and_taken_sessions_are_not_reused():
    days = mondays_thursdays(date(2031, 1, 6), weeks=4)
    finder = CourseFinder(windows(days[:-1]), "America/Los_Angeles")
    assert (
        finder.find(
            ANY_TIME, earliest=datetime(2031, 1, 6, tzinfo=UTC), latest_first=datetime(2031, 2, 1, tzinfo=UTC)
        )
        is None
    )
    finder = CourseFinder(windows(days, chairs=(1, 2), providers=(7, 8)), "America/Los_Angeles")
    first = finder.find(
        ANY_TIME, earliest=datetime(2031, 1, 6, tzinfo=UTC), latest_first=datetime(2031, 1, 7, tzinfo=UTC)
    )
    finder.take(first)
    second = finder.find(
        ANY_TIME, earliest=datetime(2031, 1, 6, tzinfo=UTC), latest_first=datetime(2031, 1, 7, tzinfo=UTC)
    )
    assert {s.chair_id for s in first} != {s.chair_id for s in second}
    # one provider for both chairs: the second course cannot have the same nurse at the same time
    finder = CourseFinder(windows(days, chairs=(1, 2), providers=(7,)), "America/Los_Angeles")
    finder.take(
        finder.find(
            ANY_TIME, earliest=datetime(2031, 1, 6, tzinfo=UTC), latest_first=datetime(2031, 1, 7, tzinfo=UTC)
        )
    )
    assert (
        finder.find(
            ANY_TIME, earliest=datetime(2031, 1, 6, tzinfo=UTC), latest_first=datetime(2031, 1, 7, tzinfo=UTC)
        )
        is None
    )


@settings(max_examples=60, deadline=None)
@given(
    open_days=st.sets(st.integers(0, 6), min_size=1, max_size=7),
    hours=st.lists(
        st.sampled_from(["08:00", "09:00", "11:30", "14:00"]), min_size=1, max_size=3, unique=True
    ),
    weekdays=st.sets(st.integers(0, 6), max_size=4),
    dropped=st.sets(st.integers(0, 200), max_size=30),
)
def test_every_course_found_fits_the_rules(open_days, hours, weekdays, dropped):
    first = date(2031, 3, 2)
    all_windows = [
        w
        for h in hours
        for w in windows(
            [
                first + timedelta(days=i)
                for i in range(50)
                if (first + timedelta(days=i)).weekday() in open_days
            ],
            at=h,
        )
    ]
    kept = [w for i, w in enumerate(all_windows) if i not in dropped]
    prefs = Preferences.from_entry(sorted(weekdays), [])
    course = CourseFinder(kept, "America/Los_Angeles").find(
        prefs, earliest=datetime(2031, 3, 2, tzinfo=UTC), latest_first=datetime(2031, 3, 20, tzinfo=UTC)
    )
    if course is None:
        return
    starts = [s.start for s in course]
    assert len(course) == 8 and starts == sorted(starts)
    assert set(starts) <= {w.start for w in kept}
    local_days = [s.astimezone(LA).date() for s in starts]
    assert all(
        (b - a).days >= 2 for a, b in zip(local_days, local_days[1:], strict=False)
    )  # never back to back
    for week in range(4):  # twice in every week of the course
        lo = local_days[0] + timedelta(days=7 * week)
        assert sum(lo <= d < lo + timedelta(days=7) for d in local_days) == 2
    assert not weekdays or all(d.weekday() in weekdays for d in local_days)
