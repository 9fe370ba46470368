"""Money in words for people: receipts, statements, notices and portal pages."""


def format_money(amount: int, currency: str) -> str:
    """Minor units as printed: "$1,234.50" in dollars, "EUR 1,234.50" otherwise, "-$5.00" below zero."""
    sign = "-" if amount < 0 else ""
    symbol = "$" if currency == "usd" else f"{currency.upper()} "
    return f"{sign}{symbol}{abs(amount) // 100:,}.{abs(amount) % 100:02d}"
