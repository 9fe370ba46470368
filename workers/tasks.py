"""Entry point for `dramatiq workers.tasks`: the broker and every actor (the handler registry)."""

from workers import broker, registry  # noqa: F401
