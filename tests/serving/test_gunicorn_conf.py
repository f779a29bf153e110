"""The documented gunicorn set-up (whistle/serving/gunicorn_conf.py) trusts forwarded headers
exactly as the app does, and its logs name no client and carry no query string.

The log tests run a real gunicorn with the README's command and send it what gunicorn itself
logs: a malformed request line, a malformed header whose value looks like an address, and
ordinary requests with an address in ``X-Forwarded-For`` and a token-like query string. Only
SQLite: what is checked is gunicorn's handling and logging, which the database does not touch
(the abuse suite, tests/security/abuse/, runs this server on both databases).
"""

from __future__ import annotations

import http.client
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from gunicorn.config import Config

from tests.steps.gunicorn import Gunicorn, start_gunicorn
from whistle.core.db import make_engine
from whistle.core.instance import init_instance
from whistle.core.schema import upgrade
from whistle.core.settings import load_settings
from whistle.serving import gunicorn_options
from whistle.serving.private_log import scrub

CLIENT = "127.0.0.1"
FORWARDED = "198.51.100.23"  # TEST-NET-2: an address that is nobody's
QUERY = "token=fake-not-a-secret"


def gunicorn_config(instance: Path, trusted_proxies: int) -> Config:
    """gunicorn's own Config, filled from the module as gunicorn fills it (its validators run)."""
    settings = load_settings(instance, overrides={"trusted_proxies": trusted_proxies})
    config = Config()
    for name, value in gunicorn_options.options(settings).items():
        config.set(name, value)
    return config


def make_instance(path: Path, trusted_proxies: int) -> Path:
    init_instance(path)
    with (path / "config.toml").open("a", encoding="utf-8") as config:
        config.write(f'\ntrusted_proxies = {trusted_proxies}\nargon2_profile = "test"\n')
    engine = make_engine(f"sqlite:///{path / 'whistle.db'}")
    upgrade(engine)
    engine.dispose()
    return path


def test_with_no_trusted_proxy_gunicorn_trusts_no_forwarded_header_not_even_loopback(
    tmp_path: Path,
) -> None:
    config = gunicorn_config(make_instance(tmp_path / "instance", 0), 0)
    assert config.forwarded_allow_ips == []
    assert config.secure_scheme_headers == {}


def test_with_one_trusted_proxy_gunicorn_trusts_the_local_proxy_only(tmp_path: Path) -> None:
    config = gunicorn_config(make_instance(tmp_path / "instance", 1), 1)
    assert config.forwarded_allow_ips == ["127.0.0.1", "::1"]
    assert config.secure_scheme_headers == {"X-FORWARDED-PROTO": "https"}


def test_the_config_chooses_threaded_workers_and_the_private_logger(tmp_path: Path) -> None:
    config = gunicorn_config(make_instance(tmp_path / "instance", 0), 0)
    assert config.worker_class_str == "gthread" and config.threads > 1
    assert config.logger_class.__name__ == "PrivateLogger"
    assert config.access_log_format == "%(m)s %(U)s %(s)s %(L)s"


def raw_request(port: int, data: bytes) -> bytes:
    with socket.create_connection((CLIENT, port), timeout=10) as connection:
        connection.sendall(data)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    return answer


def get(port: int, path: str, headers: dict[str, str]) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection(CLIENT, port, timeout=10)
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


@pytest.fixture(scope="module")
def served_logs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, list[str]]]:
    """Run a server with no trusted proxy, send it the requests, stop it: (its logs, the
    Strict-Transport-Security answers to a spoofed ``X-Forwarded-Proto: https``)."""
    root = tmp_path_factory.mktemp("gunicorn-logs")
    server: Gunicorn = start_gunicorn(make_instance(root / "instance", 0), root / "logs")
    try:
        malformed_line = raw_request(server.port, f"GARBAGE /o/x?{QUERY}\r\n\r\n".encode())
        malformed_header = raw_request(
            server.port,
            f"GET /healthz?{QUERY} HTTP/1.1\r\nHost: x\r\nBad Header: {FORWARDED}\r\n"
            "Connection: close\r\n\r\n".encode(),
        )
        assert malformed_line.startswith(b"HTTP/1.1 400") and malformed_header.startswith(
            b"HTTP/1.1 400"
        )
        spoofed = get(
            server.port,
            f"/healthz?{QUERY}",
            {"X-Forwarded-For": FORWARDED, "X-Forwarded-Proto": "https", "Referer": FORWARDED},
        )
        assert spoofed.status == 200
        hsts = [spoofed.headers.get("Strict-Transport-Security") or ""]
        assert get(server.port, f"/no-such-page?{QUERY}", {"X-Real-IP": FORWARDED}).status == 404
    finally:
        server.stop()
    yield server.logs(), hsts


def test_gunicorn_trusts_no_forwarded_proto_when_the_instance_trusts_no_proxy(
    served_logs: tuple[str, list[str]],
) -> None:
    _logs, hsts = served_logs
    assert hsts == [""], "the request was taken for HTTPS on a client's word"


def test_the_logs_name_no_client_address_and_carry_no_query_string(
    served_logs: tuple[str, list[str]],
) -> None:
    logs, _hsts = served_logs
    # The requests were logged (so the absences below mean something) ...
    assert "GET /healthz 200" in logs
    assert "GET /no-such-page 404" in logs
    assert logs.count("Invalid request") == 2, "both malformed requests are in the error log"
    # ... without who sent them or what their query strings held.
    for needle in (CLIENT, FORWARDED, QUERY, "fake-not-a-secret", "ip="):
        assert needle not in logs, needle


def test_scrub_removes_addresses_queries_and_malformed_request_content() -> None:
    assert scrub("Invalid request from ip=203.0.113.9: Invalid HTTP request line: 'GET /?a=b'") == (
        "Invalid request: Invalid HTTP request line"
    )
    assert (
        scrub("Error handling request /invite?token=abc")
        == "Error handling request /invite?[query]"
    )
    assert scrub("peer 2001:db8::7 and ::ffff:10.0.0.1 left") == "peer [address] and [address] left"
    assert scrub("Booting worker with pid: 4242") == "Booting worker with pid: 4242"
