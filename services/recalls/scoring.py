"""PHQ-9 and GAD-7 scoring by the published rules (Kroenke et al. 2001; Spitzer et al. 2006).

Each item is answered 0 ("not at all") to 3 ("nearly every day"); the total is the sum. PHQ-9
severity: 0-4 minimal, 5-9 mild, 10-14 moderate, 15-19 moderately severe, 20-27 severe. GAD-7:
0-4 minimal, 5-9 mild, 10-14 moderate, 15-21 severe. PHQ-9 item 9 (thoughts that you would be
better off dead or of hurting yourself) above 0 needs a clinician's attention whatever the total.
"""

from dataclasses import dataclass

from services.core.errors import InvalidInput
from services.recalls.models import Severity

PHQ9_ITEMS = 9
GAD7_ITEMS = 7
SELF_HARM_ITEM = 8  # PHQ-9 item 9, zero-based

_PHQ9_BANDS = (
    (4, Severity.MINIMAL),
    (9, Severity.MILD),
    (14, Severity.MODERATE),
    (19, Severity.MODERATELY_SEVERE),
)
_GAD7_BANDS = ((4, Severity.MINIMAL), (9, Severity.MILD), (14, Severity.MODERATE))


@dataclass(frozen=True)
class Score:
    items: list[int]
    total: int
    severity: str


def _items(answers, count: int, field: str) -> list[int]:
    if not isinstance(answers, list | tuple) or len(answers) != count:
        raise InvalidInput(f"{field} has exactly {count} answers, each 0 to 3.", field=field)
    for index, value in enumerate(answers):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 3:
            raise InvalidInput("Each answer is a whole number from 0 to 3.", field=f"{field}[{index}]")
    return list(answers)


def _band(total: int, bands, top: str) -> str:
    for upper, severity in bands:
        if total <= upper:
            return severity
    return top


def score_phq9(answers) -> Score:
    items = _items(answers, PHQ9_ITEMS, "phq9")
    total = sum(items)
    return Score(items, total, _band(total, _PHQ9_BANDS, Severity.SEVERE))


def score_gad7(answers) -> Score:
    items = _items(answers, GAD7_ITEMS, "gad7")
    total = sum(items)
    return Score(items, total, _band(total, _GAD7_BANDS, Severity.SEVERE))
