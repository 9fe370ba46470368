"""The periodic-job scheduler (one process; see issue #3 for the full design)."""

import signal
import time

from workers import broker  # noqa: F401


def main() -> None:
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    while not stopping:
        time.sleep(0.5)


if __name__ == "__main__":
    main()
