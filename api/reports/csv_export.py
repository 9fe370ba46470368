"""CSV out of the reports: the figures as one table per report (a `section` column, then the declared
columns), and the appointment rows behind them streamed from PostgreSQL's COPY."""

import csv
import io
from collections.abc import Iterator

from django.http import StreamingHttpResponse

from services.reports import selectors
from services.reports.period import Period
from services.reports.shapes import SHAPES, csv_columns


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def figure_rows(report: str, data: dict) -> Iterator[list]:
    """The CSV rows of a report's figures, header first; the same values as the JSON."""
    cols = csv_columns(report)
    yield cols
    for section in SHAPES[report]["sections"]:
        for row in data[section]:
            yield [section if c == "section" else _cell(row.get(c)) for c in cols]


def _encode(rows) -> Iterator[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for batch in rows:
        writer.writerows(batch)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def _response(chunks: Iterator[str], filename: str) -> StreamingHttpResponse:
    response = StreamingHttpResponse(chunks, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def figures_response(report: str, data: dict, period: Period) -> StreamingHttpResponse:
    return _response(_encode([list(figure_rows(report, data))]), f"{report}-{period.start}-{period.end}.csv")


def appointments_response(location_ids: list[int], period: Period) -> StreamingHttpResponse:
    return _response(
        selectors.appointments_csv(location_ids=location_ids, period=period),
        f"appointments-{period.start}-{period.end}.csv",
    )
