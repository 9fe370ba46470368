"""Dramatiq wiring: the Redis broker from REDIS_URL, set up once Django is."""

import os

import django
import dramatiq
from dramatiq.brokers.redis import RedisBroker

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "infra.settings")
django.setup()

from django.conf import settings  # noqa: E402

broker = RedisBroker(url=settings.REDIS_URL)
dramatiq.set_broker(broker)
