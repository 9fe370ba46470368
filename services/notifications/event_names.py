"""Notifications' domain events: the one place their names are spelt (docs/events-catalogue.md)."""

NOTIFICATION_REQUESTED = "notification.requested"
