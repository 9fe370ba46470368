"""Controlled-substance log events (receipts, administrations, waste, transfers, counts)."""

CONTROLLED_RECEIVED = "controlled.received"
CONTROLLED_ADMINISTERED = "controlled.administered"
CONTROLLED_WASTED = "controlled.wasted"
CONTROLLED_TRANSFERRED = "controlled.transferred"
CONTROLLED_COUNTED = "controlled.counted"
CONTROLLED_DISCREPANCY_FOUND = "controlled.discrepancy_found"
