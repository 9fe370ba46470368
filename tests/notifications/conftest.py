# The same real broker, mail directory and breaker set-up as the workers' tests.
from tests.workers.conftest import events_broker, private_redis  # noqa: F401
