"""Each report's shape, declared once: the API documents it, the JSON and CSV are written from it and
the page draws its tables from it, so the three cannot disagree about what a figure is called.

A section is a list of rows; a column is (name, kind) with kind one of str, int, float, nfloat (a
float or null: a median of nothing), month. Money columns are integer minor units beside `currency`.
"""

LOCATION = [("location", "str"), ("name", "str")]
UTIL = [("open_minutes", "int"), ("booked_minutes", "int"), ("utilization", "float")]
ATTEND = [
    ("due", "int"),
    ("completed", "int"),
    ("no_shows", "int"),
    ("late_cancels", "int"),
    ("cancellations", "int"),
    ("no_show_rate", "float"),
    ("late_cancel_rate", "float"),
]
MONEY = [
    ("currency", "str"),
    ("charges", "int"),
    ("collections", "int"),
    ("refunds", "int"),
    ("disputes", "int"),
    ("adjustments", "int"),
    ("discounts", "int"),
    ("write_offs", "int"),
    ("lender_fees", "int"),
    ("fee_waivers", "int"),
]

SHAPES: dict[str, dict] = {
    "utilization": {
        "scalars": [],
        "sections": {
            "clinics": LOCATION + UTIL,
            "chairs": [("location", "str"), ("chair", "str"), ("name", "str"), *UTIL],
            "heatmap": [("weekday", "int"), ("hour", "int"), *UTIL],
            "providers": [
                ("location", "str"),
                ("provider", "str"),
                ("name", "str"),
                ("shift_minutes", "int"),
                ("booked_minutes", "int"),
                ("utilization", "float"),
            ],
        },
    },
    "attendance": {
        "scalars": [],
        "sections": {
            "clinics": [
                *LOCATION,
                *ATTEND,
                ("chair_cancellations", "int"),
                ("refilled", "int"),
                ("refilled_from_waitlist", "int"),
                ("median_hours_to_refill", "nfloat"),
            ],
            "services": [("location", "str"), ("service", "str"), ("name", "str"), *ATTEND],
            "providers": [("location", "str"), ("provider", "str"), ("name", "str"), *ATTEND],
        },
    },
    "revenue": {
        "scalars": [],
        "sections": {
            "clinics": LOCATION + MONEY,
            "services": [("location", "str"), ("service", "nstr"), ("name", "str"), *MONEY],
        },
    },
    "aging": {
        "scalars": [("as_of", "date")],
        "sections": {
            "receivables": [
                *LOCATION,
                ("currency", "str"),
                ("invoices", "int"),
                ("outstanding", "int"),
                ("d0_30", "int"),
                ("d31_60", "int"),
                ("d61_90", "int"),
                ("d90_plus", "int"),
            ],
            "installment_delinquency": [
                *LOCATION,
                ("currency", "str"),
                ("plans_past_due", "int"),
                ("installments_past_due", "int"),
                ("amount_past_due", "int"),
            ],
        },
    },
    "liabilities": {
        "scalars": [("as_of", "date")],
        "sections": {
            "unused_credits": [
                *LOCATION,
                ("expiry_month", "str"),
                ("credits", "int"),
                ("value", "int"),
                ("currency", "str"),
            ],
            "financing": [*LOCATION, ("financings", "int"), ("awaiting_payout", "int"), ("currency", "str")],
        },
    },
    "compliance": {
        "scalars": [("within_days", "int")],
        "sections": {
            "clinics": [
                *LOCATION,
                ("recalls_opened", "int"),
                ("recalls_converted", "int"),
                ("recall_conversion_rate", "float"),
                ("waitlist_joined", "int"),
                ("waitlist_booked", "int"),
                ("median_days_join_to_first_session", "nfloat"),
                ("monitoring_forms_due", "int"),
                ("monitoring_forms_on_time", "int"),
                ("monitoring_forms_late", "int"),
                ("monitoring_forms_overdue", "int"),
                ("monitoring_forms_pending_not_yet_due", "int"),
                ("monitoring_forms_on_time_rate", "float"),
            ],
        },
    },
}

REPORTS = tuple(SHAPES)


def csv_columns(report: str) -> list[str]:
    """The CSV header: `section`, then every column of every section, in declaration order."""
    cols: list[str] = ["section"]
    for section in SHAPES[report]["sections"].values():
        cols += [name for name, _ in section if name not in cols]
    return cols
