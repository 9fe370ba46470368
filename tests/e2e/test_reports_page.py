"""The staff report page in headless Chromium: sign in, pick a week, and every table on the page shows
the figures the JSON endpoints return, with the charts drawn; a screenshot is kept in .data/."""

import pytest

from services.reports.shapes import SHAPES
from tests.conftest import client_for
from tests.e2e.support import sign_in
from tests.factories.organizations import staff_with_role
from tests.reports.fixtures import END, START, dst_week

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser_window():
    return "1200,1600"  # every report on one screenshot


def table_cells(browser, table_id):
    rows = browser.find_elements("css selector", f"#{table_id} tbody tr")
    return [[td.get_attribute("textContent") for td in row.find_elements("tag name", "td")] for row in rows]


def test_the_page_shows_the_json_figures_with_charts(browser, live_server, settings):
    week = dst_week()
    manager = staff_with_role("manager", location=week.location)
    sign_in(browser, live_server, manager.email, area="reports")
    browser.get(f"{live_server.url}/reports/?start={START}&end={END}")

    api = client_for(manager)
    shown = [s.get_attribute("id") for s in browser.find_elements("css selector", "section.report")]
    assert shown == [f"report-{name}" for name in SHAPES]  # a manager reads every report of the clinic
    for report, shape in SHAPES.items():
        body = api.get(f"/api/v1/reports/{report}", {"start": START, "end": END}).json()
        for section, columns in shape["sections"].items():
            want = [["" if row[c] is None else str(row[c]) for c, _ in columns] for row in body[section]]
            assert table_cells(browser, f"{report}-{section}") == want, (report, section)
        assert browser.find_elements("css selector", f"#report-{report} .chart svg")

    clinic_row = table_cells(browser, "utilization-clinics")[0]
    assert clinic_row[2:] == ["2160", "330", "0.1528"]  # the hand-computed DST week
    browser.save_screenshot(str(settings.BASE_DIR / ".data" / "reports-e2e.png"))
    print(f"\n[e2e] screenshot: {settings.BASE_DIR / '.data' / 'reports-e2e.png'}")


def test_a_bad_range_and_a_clinical_role(browser, live_server):
    week = dst_week()
    clinician = staff_with_role("clinician", location=week.location)
    sign_in(browser, live_server, clinician.email, area="reports")
    browser.get(f"{live_server.url}/reports/?start=2030-01-01&end=2031-06-01")
    assert "end: At most 366 days" in browser.find_element("id", "error").text
    browser.get(f"{live_server.url}/reports/?start={START}&end={END}")
    # clinicians read the clinical operations report only: no money, no utilization
    shown = [s.get_attribute("id") for s in browser.find_elements("css selector", "section.report")]
    assert shown == ["report-compliance"]
    assert "charges" not in browser.page_source
