"""The figures a benchmark reports for `make bench` (bench/run_all.py), one marked line each.

A bench calls `result(...)` for each figure it has a goal for; run_all reads the marked lines from the
bench's output and prints them all in one table. Run alone, a bench prints the same lines, readable.
"""

import json

MARK = "BENCH-RESULT "


def result(
    figure: str,
    value: float,
    unit: str,
    *,
    goal: str,
    passed: bool | None,
    reference: float | None = None,
    reference_label: str = "",
) -> None:
    """`value` in `unit`; `reference` is what it is compared with, measured in the same run.
    `passed` None: a figure the issue gives no goal for (shown as "info", never as a pass)."""
    print(
        MARK
        + json.dumps(
            {
                "figure": figure,
                "value": round(value, 4),
                "unit": unit,
                "reference": None if reference is None else round(reference, 4),
                "reference_label": reference_label,
                "goal": goal,
                "passed": None if passed is None else bool(passed),
            }
        ),
        flush=True,
    )


def parse(line: str) -> dict | None:
    return json.loads(line[len(MARK) :]) if line.startswith(MARK) else None
