"""Gunicorn for the API: threads share persistent database connections (CONN_MAX_AGE)."""

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 10
accesslog = None  # the request-id middleware logs what we need; paths may carry patient ids
errorlog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# gunicorn >= 25 opens a control socket at ~/.gunicorn/gunicorn.ctl, shared by every instance on a
# host (a second `make run` steals the first's) and unwritable on a read-only root filesystem.
control_socket_disable = True
