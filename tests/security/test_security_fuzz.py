"""Property-based fuzzing (hypothesis) of every form handler and every CLI command.

Forms: every POST route of the URL map is sent, by a visitor allowed to use it and with a
valid CSRF token of their session (tests/steps/security_world.py), arbitrary values for the
fields its page asks for: any text, control characters and NUL, long strings, numbers and dates
where words belong, several values for one field, missing fields, unknown fields, and arbitrary
files with arbitrary names. The property: the answer is never a server error, never shows a
traceback, and still carries the security headers. Routes that end what later ones need (the
session, the keys to the case) go last.

CLI: every command of ``whistle`` (whistle/cli.py), groups included, is run through click's
CliRunner with arbitrary arguments against a real instance and database. The property: it
ends normally or with a usage error, never with an uncaught exception or a traceback. Flask's
own ``run`` and ``shell`` are left out: they start a server and an interpreter, not ours.

Examples are bounded (see EXAMPLES) so that the whole suite stays fast; hypothesis keeps any
failing example in its database and tries it first next time.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

import tests.steps.authorisation as authorisation
from crypto import SigningKey
from tests.steps.authorisation import Browser
from tests.steps.factories import Unit
from tests.steps.pages import CSRF_RE, csrf_token
from tests.steps.reporter import ReportAnswers, Reporter, Upload
from tests.steps.security_world import (
    FormField,
    QueryTarget,
    Recorder,
    Target,
    Visitors,
    add_visitors,
    post_targets,
    problems_of,
    query_targets,
)
from whistle.cli import cli
from whistle.core.clock import FixedClock
from whistle.reporting import code_attempts
from whistle.reporting.receipts import ReceiptStatement, ReportProof, parse_receipt, sign_receipt
from whistle.reporting.views import throttles as reporter_throttles
from whistle.staff import totp
from whistle.web.forms import parse_id

EXAMPLES = 25
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
# These end what later posts need (the reporter's and the handler's sessions, the handler's
# keys to the case, an open case, an active organisation): fuzzed last, in this order.
LAST = (
    "cases.close",
    "cases.remove",
    "cases.recuse",
    "mailbox.keep_out",
    "mailbox.sign_out",
    "operators.suspend",
    "staff.sign_out",
)
# Flask's development server and interpreter: they block, and they are not Whistle's code.
NOT_FUZZED = {("run",), ("shell",)}

OMIT = object()
NASTY = st.sampled_from(
    [
        "\x00",
        "a\x00b",
        "\r\n\t",
        "' OR 1=1 --",
        "<script>alert(1)</script>",
        "{{ 7 * 7 }}",
        "%s%n%x",
        "../../etc/passwd",
        "\u202e\u200b\ufeff",
        "🙂" * 50,
        "-1",
        "0",
        "99999999999999999999999999",
        "9" * 5000,
        "²",  # a digit to str.isdigit(), not to int()
        "١٢٣٤٥٦",  # six Arabic-Indic digits: a "code" that is not ASCII
        "٢٠٢٦",
        "1e309",
        "NaN",
        "2026-02-30",
        "9999-12-31",
        " ",
        "",
    ]
)
TEXT = st.text(max_size=60)
# Long, but bounded: the deployment's request limit is tested elsewhere (a clear 413).
LONG = st.builds(lambda ch, n: ch * n, st.characters(codec="utf-8"), st.integers(2_000, 60_000))
SCALAR = st.one_of(
    TEXT, NASTY, LONG, st.integers().map(str), st.dates().map(str), st.floats().map(str)
)
FILE_NAME = st.text(st.characters(codec="utf-8", blacklist_characters='"\r\n'), max_size=300)
FILES = st.lists(
    st.tuples(st.binary(max_size=4096), FILE_NAME).map(lambda f: (io.BytesIO(f[0]), f[1])),
    max_size=3,
)


def value_for(found: FormField) -> st.SearchStrategy[Any]:
    if found.kind == "file":
        return FILES
    one = st.one_of(st.sampled_from(found.options), SCALAR) if found.options else SCALAR
    return st.one_of(one, st.lists(one, min_size=2, max_size=4))


def form_data(target: Target) -> st.SearchStrategy[dict[str, Any]]:
    """Any mix of the form's own fields (each maybe missing) and a few made-up ones."""
    fields = {
        name: st.one_of(st.just(OMIT), value_for(found))
        for name, found in target.fields.items()
        if not name.endswith("csrf_token")
    }
    extra = st.dictionaries(st.text(min_size=1, max_size=20), SCALAR, max_size=2)

    def combine(values: tuple[dict[str, Any], dict[str, Any]]) -> dict[str, Any]:
        own, made_up = values
        return {**made_up, **{k: v for k, v in own.items() if v is not OMIT}}

    return st.tuples(st.fixed_dictionaries(fields), extra).map(combine)


def ordered(targets: list[Target]) -> list[Target]:
    return sorted(targets, key=lambda t: LAST.index(t.endpoint) if t.endpoint in LAST else -1)


def fresh_token(visitors: Visitors, target: Target) -> str:
    """A CSRF token of the poster's session as it is now (a form may have renewed it)."""
    browser = visitors.browsers[target.role]
    page = browser.client.get(target.page, headers={"Accept-Language": "en"})
    found = CSRF_RE.search(page.get_data(as_text=True))
    return found.group(1) if found else browser.token


@pytest.fixture
def visitors(
    app: Flask,
    session: Session,
    clock: FixedClock,
    world: authorisation.World,
    monkeypatch: pytest.MonkeyPatch,
) -> Any:
    found = add_visitors(app, session, clock, world)
    # Throttles would answer 429 after a few posts and hide the handlers behind them.
    for module, name in (
        (reporter_throttles, "SUBMISSION"),
        (reporter_throttles, "REPLY"),
        (code_attempts, "ADDRESS"),
        (code_attempts, "ADDRESS_UNDER_ATTACK"),
    ):
        monkeypatch.setattr(module, name, replace(getattr(module, name), free=10**9))
    return found


def fuzz(visitors: Visitors, target: Target) -> int:
    """Post arbitrary values to ``target``; how many got past the CSRF check."""
    browser = visitors.browsers[target.role]
    token_field = next((n for n in target.fields if n.endswith("csrf_token")), "csrf_token")
    state = {"token": fresh_token(visitors, target), "reached": 0}

    @FUZZ
    @given(data=form_data(target))
    def post(data: dict[str, Any]) -> None:
        response = browser.client.post(
            target.url,
            data={**data, token_field: state["token"]},
            headers={"Accept-Language": "en"},
            content_type="multipart/form-data",
        )
        body = response.get_data()
        assert response.status_code < 500, f"server error {response.status_code}"
        assert b"Traceback" not in body, "a traceback was shown"
        if response.status_code == 400 and b"The form has expired" in body:
            state["token"] = fresh_token(visitors, target)  # the form renewed the session
        else:
            state["reached"] = int(state["reached"]) + 1

    post()
    return int(state["reached"])


# The form handlers are fuzzed in shards, each in a world of its own, so that the test workers
# share them out (one test of them all took two minutes, the last of the run). Every handler is
# in exactly one shard (tests/security/test_security_fuzz.py::test_the_shards_cover_every_form);
# the handlers in LAST end the last shard, in their order.
SHARDS = 4


def shard_of(targets: list[Target], shard: int) -> list[Target]:
    first = [t for t in targets if t.endpoint not in LAST]
    mine = [t for i, t in enumerate(first) if i % SHARDS == shard]
    if shard == SHARDS - 1:
        mine += ordered([t for t in targets if t.endpoint in LAST])
    return mine


def test_the_shards_cover_every_form(app: Flask, visitors: Visitors) -> None:
    targets = post_targets(app, visitors)
    shards = [shard_of(targets, k) for k in range(SHARDS)]
    assert sorted(t.url for s in shards for t in s) == sorted(t.url for t in targets)
    assert [t.endpoint for t in shards[-1][-len(LAST) :]] == [
        e for e in LAST if e in {t.endpoint for t in targets}
    ]


@pytest.mark.parametrize("shard", range(SHARDS))
def test_every_form_handler_survives_arbitrary_input(
    app: Flask, visitors: Visitors, shard: int
) -> None:
    recorder = Recorder(app)
    problems: list[str] = []
    missed: list[str] = []
    for target in shard_of(post_targets(app, visitors), shard):
        try:
            if fuzz(visitors, target) == 0:
                missed.append(target.endpoint)
        except Exception as exc:  # noqa: BLE001 - every handler is tried, then all are reported
            notes = "\n".join(getattr(exc, "__notes__", []))[:1500]
            problems.append(f"{target.endpoint} as {target.role}: {exc!r}\n{notes}")
    assert not problems, "\n\n".join(problems)
    assert not missed, f"no example got past the CSRF check: {missed}"
    # This app's address is plain HTTP (a development setting): cookies are not Secure here;
    # tests/security/test_security_responses.py checks them with an HTTPS address.
    header_problems = problems_of(recorder.seen, secure_cookies=False)
    assert not header_problems, "\n".join(header_problems[:40])


QUERY_EXAMPLES = 15


def query_data(target: QueryTarget) -> st.SearchStrategy[dict[str, Any]]:
    """Any mix of the query keys the pages use (each maybe missing) and a few made-up ones."""
    keys = {
        key: st.one_of(st.just(OMIT), st.sampled_from(sorted(seen)), SCALAR)
        for key, seen in target.values.items()
    }
    extra = st.dictionaries(st.text(min_size=1, max_size=20), SCALAR, max_size=2)
    return st.tuples(st.fixed_dictionaries(keys), extra).map(
        lambda both: {**both[1], **{k: v for k, v in both[0].items() if v is not OMIT}}
    )


def ask_arbitrary(browser: Browser, target: QueryTarget) -> None:
    @settings(FUZZ, max_examples=QUERY_EXAMPLES)
    @given(query=query_data(target))
    def ask(query: dict[str, Any]) -> None:
        response = browser.client.get(
            target.path, query_string=query, headers={"Accept-Language": "en"}
        )
        assert response.status_code < 500, f"server error {response.status_code}"
        assert b"Traceback" not in response.get_data()

    ask()


def test_every_filter_and_query_survives_arbitrary_values(app: Flask, visitors: Visitors) -> None:
    """Every page, with arbitrary values for every query key a view reads: the GET forms
    (the inbox's filters, the registers' year and page, the statistics' period), a return
    address, a page of the audit log, a notice to show."""
    targets = {t.endpoint: t for t in query_targets(app, visitors)}
    # The watch saw the views that read a query, and the keys they read:
    assert {"page", "year"} <= set(targets["registers.reports"].values)
    assert "before" in targets["audit_log.index"].values
    assert "next" in targets["i18n.switch"].values
    assert len(targets["cases.inbox"].values["status"]) > 1, "the inbox's filters were not read"
    problems = []
    for target in targets.values():
        try:
            ask_arbitrary(visitors.browsers[target.role], target)
        except Exception as exc:  # noqa: BLE001 - every page is tried, then all are reported
            notes = "\n".join(getattr(exc, "__notes__", []))[:1500]
            problems.append(f"{target.endpoint} {target.path} as {target.role}: {exc!r}\n{notes}")
    assert not problems, "\n\n".join(problems)


def test_a_form_part_without_a_name_is_ignored_not_a_server_error(client: FlaskClient) -> None:
    """Found by the fuzzing above: a multipart part whose header has no usable name (here a
    bare carriage return) reached Flask-WTF under the key None; its search for a prefixed CSRF
    token then failed with a server error."""
    page = client.get("/staff/sign-in")
    prefixed = {"sign-csrf_token": csrf_token(page)}
    for token in ({}, prefixed):
        response = client.post(
            "/staff/sign-in",
            data={"\r": "", "email": "x@example.org", **token},
            content_type="multipart/form-data",
            headers={"Accept-Language": "en"},
        )
        assert response.status_code in (200, 400)
        assert "Traceback" not in response.get_data(as_text=True)
    assert "This field is required." in response.get_data(as_text=True)  # the token was read


def test_a_nul_character_is_refused_clearly_in_a_form_and_in_an_address(
    client: FlaskClient, unit: Unit
) -> None:
    """Found by the fuzzing above: PostgreSQL refuses text holding NUL, so a NUL in a
    clear-text field (an e-mail address at sign-in, a category's name) or in a filter of the
    address was a server error there. Now it is refused with the 400 page, on both databases."""
    page = client.get("/staff/sign-in")
    posted = client.post(
        "/staff/sign-in",
        data={"csrf_token": csrf_token(page), "email": "a\x00@example.org", "password": "x"},
        headers={"Accept-Language": "en"},
    )
    assert posted.status_code == 400
    assert "Something in what was sent did not make sense" in posted.get_data(as_text=True)
    asked = client.get(f"/o/{unit.org.slug}/?x=%00", headers={"Accept-Language": "da"})
    assert asked.status_code == 400
    assert "Traceback" not in asked.get_data(as_text=True)


@pytest.mark.parametrize(
    "raw", ["²", "9" * 5000, "99999999999999999999", "2147483648", "٢٠٢٦", "-1", ""]
)
def test_numbers_that_only_look_like_numbers_are_refused_as_ids(raw: str) -> None:
    """Found by the fuzzing above: ids, pages and years were read with ``str.isdigit()`` and
    ``int()``, so "²" (a digit, not a decimal), very long numbers and (on PostgreSQL) numbers
    past its INTEGER were server errors."""
    assert parse_id(raw) is None
    assert parse_id("42") == 42
    assert parse_id("2147483647") == 2147483647  # PostgreSQL's largest INTEGER


def test_a_sign_in_code_in_other_digits_is_just_wrong() -> None:
    """Six Arabic-Indic digits pass ``str.isdigit()``; the code check must refuse them, not
    fail on encoding them as ASCII."""
    secret = totp.new_secret()
    assert totp.check_code(secret, "١٢٣٤٥٦", datetime.now(UTC), last_step=None) is None


# --- the CLI ----------------------------------------------------------------------------------


def commands(
    group: click.Group, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], click.Command]]:
    """Every command and group under ``group`` with the words that reach it."""
    for name, command in sorted(group.commands.items()):
        if (*path, name) in NOT_FUZZED:
            continue
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from commands(command, (*path, name))


Words = tuple[str, ...]
CLI_COMMANDS: dict[Words, click.Command] = {(): cli, **dict(commands(cli))}
CLI_IDS = [" ".join(("whistle", *path)) for path in CLI_COMMANDS]
# No NUL (a shell cannot pass one); no absolute or parent paths either: "export verify /"
# would read the whole machine. Relative names land in the test's own empty folder.
CLI_TEXT = st.text(st.characters(blacklist_characters="\x00", codec="utf-8"), max_size=40).filter(
    lambda word: not word.startswith(("/", "~")) and ".." not in word
)


def arguments_for(command: click.Command) -> st.SearchStrategy[list[str]]:
    """Any words: the command's own options and choices, numbers, paths and plain text."""
    words: list[str] = ["-", "--", "--help", ".", "/dev/null", "nonexistent", "a-file", "a-folder"]
    for param in command.params:
        words += [*param.opts, *param.secondary_opts]
        if isinstance(param.type, click.Choice):
            words += [str(c) for c in param.type.choices]
    if isinstance(command, click.Group):
        words += list(command.commands)
    token = st.one_of(st.sampled_from(words), CLI_TEXT, st.integers().map(str))
    return st.lists(token, max_size=6)


def working_folder(tmp_path: Path) -> Path:
    """Where the commands run: whatever they write by a relative path lands here, next to a
    file and a folder that exist ("a-file", "a-folder")."""
    work = tmp_path / "cwd"
    (work / "a-folder").mkdir(parents=True)
    (work / "a-file").write_bytes(b"Fake file, not a case file.")
    return work


@pytest.fixture
def cli_env(
    app: Flask,
    unit: Unit,
    database_url: str,
    instance_path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The commands work on the test's instance and database, which hold a real case."""
    Reporter(app, unit.org.slug).report(
        ReportAnswers(named=True, name="Testa Fiktiv", files=[Upload("f.txt", b"Fake")])
    )
    monkeypatch.setenv("WHISTLE_INSTANCE", str(instance_path))
    monkeypatch.setenv("WHISTLE_DATABASE_URL", database_url)
    monkeypatch.setenv("WHISTLE_ARGON2_PROFILE", "test")
    monkeypatch.chdir(working_folder(tmp_path))


def test_the_cli_knows_every_command() -> None:
    names = {" ".join(path) for path in CLI_COMMANDS}
    for expected in (
        "init",
        "setup-link",
        "db upgrade",
        "audit verify",
        "retention run",
        "receipt verify",
    ):
        assert expected in names
    assert not set(CLI_COMMANDS) & NOT_FUZZED


def fuzz_command(path: Words, examples: int = EXAMPLES) -> None:
    runner = CliRunner()

    @settings(FUZZ, max_examples=examples)
    @given(arguments=arguments_for(CLI_COMMANDS[path]))
    def run(arguments: list[str]) -> None:
        result = runner.invoke(cli, [*path, *arguments], input="", catch_exceptions=True)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise AssertionError(
                f"uncaught {type(result.exception).__name__} for {arguments!r}"
            ) from result.exception
        assert "Traceback" not in result.output, f"a traceback for {arguments!r}"

    run()


@pytest.mark.usefixtures("cli_env")
@pytest.mark.parametrize("path", list(CLI_COMMANDS), ids=CLI_IDS)
def test_every_cli_command_survives_arbitrary_arguments(path: Words) -> None:
    fuzz_command(path)


@pytest.mark.parametrize("path", list(CLI_COMMANDS), ids=CLI_IDS)
def test_every_cli_command_before_init_answers_without_a_traceback(
    path: Words, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a new administrator meets first: no instance folder yet."""
    monkeypatch.setenv("WHISTLE_INSTANCE", str(tmp_path / "not-created-yet"))
    monkeypatch.setenv("WHISTLE_ARGON2_PROFILE", "test")
    monkeypatch.delenv("WHISTLE_DATABASE_URL", raising=False)
    monkeypatch.chdir(working_folder(tmp_path))
    fuzz_command(path, examples=10)


def test_counsels_tools_name_an_unreadable_file_or_a_wrong_folder_without_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by the CLI fuzzing: ``export verify`` on a folder holding a file it may not read
    and ``export open --out`` naming a file ended in tracebacks."""
    monkeypatch.chdir(working_folder(tmp_path))
    key = Path("key.txt")
    key.write_text("not a key")
    runner = CliRunner()
    opened = runner.invoke(
        cli, ["export", "open", "a-file", "--key", str(key), "--out", "a-file", "--password", "x"]
    )
    assert opened.exit_code == 1 and "choose a new or empty folder" in opened.output
    assert opened.exception is None or isinstance(opened.exception, SystemExit)

    def refused(self: Path, *args: Any, **kwargs: Any) -> Any:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "open", refused)
    checked = runner.invoke(cli, ["export", "verify", "a-file"])
    assert checked.exit_code == 1, checked.output
    assert "Permission denied" in checked.output and "Traceback" not in checked.output
    assert isinstance(checked.exception, SystemExit)


# --- whistle receipt verify, with receipts and proofs that are almost right --------------------


def _receipt_world() -> tuple[str, bytes, str, ReceiptStatement]:
    """A real format-2 receipt, its proof and the verify key, made offline."""
    key = SigningKey.generate()
    proof = ReportProof(
        bytes(range(32)),
        {"relation": None, "what": "Fake report", "when_where": "", "who": "", "how_known": ""},
        "fuzzfirma",
        "2026-0001",
        "2026-03-02",
    )
    statement = ReceiptStatement("fuzzfirma", "2026-0001", "2026-03-02", proof.commitment().hex())
    text = (
        f"Receipt\nStatement: {statement.canonical().decode()}\n"
        f"Signature: {sign_receipt(key, statement)}\n"
    )
    return (
        text,
        proof.to_json(about="Fake", warning="Fake"),
        key.verify_key().to_bytes().hex(),
        (statement),
    )


RECEIPT, PROOF, RECEIPT_KEY, STATEMENT = _receipt_world()


def _mutated(original: bytes) -> st.SearchStrategy[bytes]:
    """The original with bytes flipped, cut, inserted or replaced wholesale."""
    flipped = st.tuples(st.integers(0, len(original) - 1), st.integers(1, 255)).map(
        lambda p: original[: p[0]] + bytes([original[p[0]] ^ p[1]]) + original[p[0] + 1 :]
    )
    cut = st.integers(0, len(original)).map(lambda n: original[:n])
    inserted = st.tuples(st.integers(0, len(original)), st.binary(max_size=20)).map(
        lambda p: original[: p[0]] + p[1] + original[p[0] :]
    )
    return st.one_of(st.just(original), flipped, cut, inserted, st.binary(max_size=200))


def test_receipt_verify_survives_almost_right_receipts_and_proofs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Offline (no instance, no database), any receipt, proof and key text ends in a clear
    verdict: exit 0 only for the untouched receipt's statement, never a traceback."""
    monkeypatch.setenv("WHISTLE_INSTANCE", str(tmp_path / "no-instance"))
    monkeypatch.delenv("WHISTLE_DATABASE_URL", raising=False)
    monkeypatch.chdir(working_folder(tmp_path))
    runner = CliRunner()
    keys = st.one_of(
        st.just(RECEIPT_KEY), st.text(max_size=80), st.binary(max_size=40).map(bytes.hex)
    )

    @settings(FUZZ, max_examples=120)
    @given(
        receipt=_mutated(RECEIPT.encode()),
        proof=st.one_of(st.none(), _mutated(PROOF)),
        key=keys,
    )
    def run(receipt: bytes, proof: bytes | None, key: str) -> None:
        Path("receipt.txt").write_bytes(receipt)
        arguments = ["receipt", "verify", "receipt.txt", "--verify-key", key]
        if proof is not None:
            Path("proof.json").write_bytes(proof)
            arguments += ["--proof", "proof.json"]
        result = runner.invoke(cli, arguments, catch_exceptions=True)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise AssertionError(f"uncaught {type(result.exception).__name__}") from (
                result.exception
            )
        assert "Traceback" not in result.output
        assert result.exit_code in (0, 1, 2), result.output
        if result.exit_code == 0:
            # Only the organisation's statement verifies, whatever else changed around it.
            assert parse_receipt(receipt.decode("utf-8-sig"))[0] == STATEMENT
            assert "Fake report" not in result.output

    run()
