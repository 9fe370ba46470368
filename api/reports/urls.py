"""Routes of the reports (under /api/v1/reports/) and the staff report page (/reports/)."""

from django.urls import re_path

from api.reports import page
from api.reports.views import VIEWS

api_urlpatterns = [
    re_path(rf"^{name}/?$", view.as_view(), name=f"report-{name}") for name, view in VIEWS.items()
]

page_urlpatterns = [
    re_path(r"^$", page.report_page, name="reports-page"),
    re_path(rf"^csv/(?P<report>{'|'.join(VIEWS)})/?$", page.report_csv, name="reports-csv"),
    re_path(r"^login/?$", page.login_page, name="reports-login"),
    re_path(r"^logout/?$", page.logout_page, name="reports-logout"),
]
