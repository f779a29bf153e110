"""gunicorn's settings for Whistle, read by whistle/serving/gunicorn_conf.py.

The README's production command and every benchmark and abuse test load this module, so the
documented deployment is the measured one. Options given on gunicorn's command line win over
these (``--bind``, ``--workers``).

Why these choices:

- **gthread workers, several threads each.** A sync worker serves one request at a time and
  is killed by the arbiter when a request runs longer than ``timeout``: a 1 GiB upload, or
  four clients trickling their bodies in, took every worker (issue 17). A gthread worker's
  main thread keeps answering the arbiter's heartbeat while its threads serve requests, so a
  long upload is never a WORKER TIMEOUT, and a slow client holds one thread, not the process.
  Argon2id's 64 MiB is taken once per process at a time (crypto/kdf.py), so threads do not
  multiply a worker's memory.
- **The reverse proxy buffers request bodies** (README: nginx ``proxy_request_buffering on``,
  on disk; Caddy's ``request_buffers <size>``, in memory and only up to that size): a reporter
  on a 2 MB/s link spends nine minutes sending 1 GiB to nginx, which stores it on disk and
  hands it to gunicorn at local speed; no thread waits on a slow link. Without a proxy,
  threads are what slow clients can take.
- **Forwarded headers follow ``trusted_proxies``.** The app trusts ``X-Forwarded-*`` only
  when ``trusted_proxies`` > 0 (whistle/web/security.py, ProxyFix); gunicorn by default trusts
  ``X-Forwarded-Proto`` from loopback whatever the app says. With ``trusted_proxies = 0`` it
  trusts no one here either, not even loopback; otherwise only the local proxy (gunicorn binds
  to loopback, so nothing else can reach it).
- **No client address and no query string in any log:** a path-only access-log format and
  :class:`whistle.serving.private_log.PrivateLogger`, which also keeps addresses out of the
  error log (malformed requests) and exception texts out of both.
"""

from __future__ import annotations

from typing import Any

from whistle.core.settings import Settings

# Method, path (no query string), status, seconds: nothing about who asked.
ACCESS_LOG_FORMAT = "%(m)s %(U)s %(s)s %(L)s"
LOOPBACK = "127.0.0.1,::1"


def options(settings: Settings) -> dict[str, Any]:
    """gunicorn's settings for the deployment ``settings`` describes."""
    trusted = settings.trusted_proxies > 0
    return {
        "bind": "127.0.0.1:8000",
        "workers": 2,
        "worker_class": "gthread",
        "threads": 16,
        # The arbiter's heartbeat: a gthread worker's main thread answers it while its threads
        # work, so this bounds a hung process, not a long request.
        "timeout": 30,
        "graceful_timeout": 30,
        "keepalive": 5,
        "forwarded_allow_ips": LOOPBACK if trusted else "",
        # Only the header a proxy sets (README), never the legacy variants a client could add.
        "secure_scheme_headers": {"X-FORWARDED-PROTO": "https"} if trusted else {},
        "forwarder_headers": "",
        "logger_class": "whistle.serving.private_log.PrivateLogger",
        "accesslog": "-",
        "errorlog": "-",
        "access_log_format": ACCESS_LOG_FORMAT,
        # The app answers every bad request itself; gunicorn's defaults bound the rest.
        "limit_request_line": 4094,
        # gunicorn 25+ opens a control socket in the account's home by default: one path shared
        # by every gunicorn of the account, and an interface nobody here uses.
        "control_socket_disable": True,
    }
