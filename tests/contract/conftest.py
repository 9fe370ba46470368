from tests.contract.checks import OPERATIONS, summary


def pytest_terminal_summary(terminalreporter):
    """The fuzz run's figures at the end of every run that included it (operations, requests, time)."""
    if OPERATIONS:
        terminalreporter.write_line(summary())
