"""The report page's charts: matplotlib drawing SVG on the server, from the same figures as the JSON.

matplotlib (rather than a JavaScript library) because the page then needs no script, no CDN and no
npm build: the SVG is inlined in the HTML and prints as it shows. Text stays text (svg.fonttype none).
"""

import io

from services.billing.money import format_money

WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
_READY = False


def _plt():
    global _READY
    import matplotlib

    if not _READY:
        matplotlib.use("Agg")
        matplotlib.rcParams.update({"svg.fonttype": "none", "font.size": 9, "svg.hashsalt": "chairside"})
        _READY = True
    import matplotlib.pyplot as plt

    return plt


def _svg(fig) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    _plt().close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # drop the XML prologue: the SVG sits inside HTML


def bars(
    labels: list[str],
    series: dict[str, list[float]],
    title: str,
    ylabel: str = "",
    currency: str | None = None,
) -> str:
    """Grouped bars. With `currency`, the values are integer minor units and the axis prints them as
    money (the one formatter receipts use), so no amount is ever turned into a fraction of a unit."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 2.8))
    width = 0.8 / max(len(series), 1)
    for i, (name, values) in enumerate(series.items()):
        ax.bar([x + i * width for x in range(len(labels))], values, width=width, label=name)
    ax.set_xticks(
        [x + width * (len(series) - 1) / 2 for x in range(len(labels))], labels, rotation=20, ha="right"
    )
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    if currency is not None:
        from matplotlib.ticker import FuncFormatter

        ax.yaxis.set_major_formatter(FuncFormatter(lambda tick, _: format_money(round(tick), currency)))
    if len(series) > 1:
        ax.legend(fontsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    return _svg(fig)


def heatmap(cells: list[dict], title: str) -> str:
    """Utilization by local weekday (rows) and hour (columns); hours never open are left blank."""
    plt = _plt()
    grid = [[float("nan")] * 24 for _ in range(7)]
    for c in cells:
        if c["open_minutes"] > 0:
            grid[c["weekday"]][c["hour"]] = c["utilization"]
    fig, ax = plt.subplots(figsize=(7, 2.6))
    image = ax.imshow(grid, aspect="auto", cmap="viridis", vmin=0, vmax=1)
    ax.set_yticks(range(7), WEEKDAYS)
    ax.set_xticks(range(0, 24, 2), [f"{h:02d}" for h in range(0, 24, 2)])
    ax.set_xlabel("local hour")
    ax.set_title(title)
    fig.colorbar(image, ax=ax, fraction=0.03)
    return _svg(fig)


def charts_for(report: str, data: dict) -> list[str]:
    """The charts drawn for one report (each a complete <svg> element)."""
    if report == "utilization":
        clinics = data["clinics"]
        return [
            bars(
                [c["name"] for c in clinics],
                {"utilization": [c["utilization"] for c in clinics]},
                "Chair utilization",
            ),
            heatmap(data["heatmap"], "Utilization by weekday and hour"),
        ]
    if report == "attendance":
        clinics = data["clinics"]
        return [
            bars(
                [c["name"] for c in clinics],
                {
                    "no-show rate": [c["no_show_rate"] for c in clinics],
                    "late-cancel rate": [c["late_cancel_rate"] for c in clinics],
                },
                "No-shows and late cancellations",
            )
        ]
    if report == "revenue":
        clinics = data["clinics"]
        return [
            bars(
                [c["name"] for c in clinics],
                {k: [c[k] for c in clinics] for k in ("charges", "collections", "refunds", "adjustments")},
                "Charges, collections, refunds and adjustments",
                **_money_axis(clinics),
            )
        ]
    if report == "aging":
        rows = data["receivables"]
        buckets = {"0-30": "d0_30", "31-60": "d31_60", "61-90": "d61_90", "90+": "d90_plus"}
        return [
            bars(
                [r["name"] for r in rows],
                {label: [r[key] for r in rows] for label, key in buckets.items()},
                "Receivables by age (days)",
                **_money_axis(rows),
            )
        ]
    if report == "liabilities":
        months = sorted({r["expiry_month"] for r in data["unused_credits"]})
        value: dict[str, dict[str, int]] = {}  # currency -> month -> minor units; never summed across
        for r in data["unused_credits"]:  # a handful of figure rows, not source rows
            by_month = value.setdefault(r["currency"], dict.fromkeys(months, 0))
            by_month[r["expiry_month"]] += r["value"]
        return [
            bars(
                months,
                {f"unused credits ({c.upper()})": list(v.values()) for c, v in value.items()},
                "Unused credits by expiry month",
                **_money_axis(data["unused_credits"]),
            )
        ]
    if report == "compliance":
        clinics = data["clinics"]
        return [
            bars(
                [c["name"] for c in clinics],
                {
                    "recall conversion": [c["recall_conversion_rate"] for c in clinics],
                    "monitoring forms on time": [c["monitoring_forms_on_time_rate"] for c in clinics],
                },
                f"Recalls booked within {data['within_days']} days; Spravato forms on time",
            )
        ]
    return []


def _money_axis(rows: list[dict]) -> dict:
    """Bars of one currency are labelled as that money; rows in several currencies (a practice that
    bills in more than one) cannot share a money axis, so they stay in minor units and say so."""
    currencies = {r["currency"] for r in rows}
    if len(currencies) == 1:
        (currency,) = currencies
        return {"ylabel": currency.upper(), "currency": currency}
    return {"ylabel": "minor units (several currencies)"}
