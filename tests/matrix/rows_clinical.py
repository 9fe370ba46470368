"""Clinical policy: clinical staff read a clinic's numbers, managers change them."""

from tests.matrix import Row

CLINICAL = frozenset({"org_admin", "manager", "front_desk", "clinician"})
MANAGERS = frozenset({"org_admin", "manager"})

ROWS = [
    Row("clinical_policy.get", "get", lambda w: f"/api/v1/clinical-policies/{w.home.public_id}", CLINICAL),
    Row(
        "clinical_policy.update",
        "put",
        lambda w: f"/api/v1/clinical-policies/{w.home.public_id}",
        MANAGERS,
        lambda w: {"ketamine_min_gap_hours": 48},
    ),
    Row(
        "clinical_policy.patch",
        "patch",
        lambda w: f"/api/v1/clinical-policies/{w.home.public_id}",
        MANAGERS,
        lambda w: {"screening_validity_days": 180},
    ),
]
