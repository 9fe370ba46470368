"""Entry point for `dramatiq workers.tasks`: imports the broker and every actor module."""

from workers import broker  # noqa: F401
