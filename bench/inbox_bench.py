"""Benchmark of the handlers' inbox (whistle/cases/inbox.py) with 100,000 cases, on PostgreSQL and
SQLite.

Run from the repository root: ``.venv/bin/python bench/inbox_bench.py`` (options: ``--cases``,
``--runs``, ``--quick`` for 10,000 cases, ``--explain`` to print every query plan,
``--databases``; ``--help`` lists them). It takes about a minute and a half with the defaults,
a quarter of a minute with ``--quick``. This is a script, not a test; the figures go into
docs/benchmarks.md ("Inbox").

What it does, all on this machine:

1. creates a fresh PostgreSQL database (random name, dropped at the end, also on error or
   Ctrl-C) and a SQLite file in a temporary folder (removed at the end), and migrates both
   with ``whistle.core.schema.upgrade``;
2. seeds each, from the same random seed, with one organisation and its default categories,
   a handler (A) and a unit lead (B), and ``--cases`` cases received over three years, with
   statuses, acknowledgement, feedback and closing dates, deadlines, scope, outcome and
   unread flags drawn as a busy unit would produce them (a few forgotten cases included, so
   the overdue filter finds something). A holds the content key of ~90 % of the cases, B of
   ~97 %. Ciphertext columns and sealed keys are random bytes of the sizes the real formats
   have (nothing in the inbox decrypts). Rows go in with bulk ``INSERT``s in batches;
3. PostgreSQL gets a ``VACUUM (ANALYZE)``, which autovacuum does by itself soon after a bulk
   load (planner statistics, and the visibility map that index-only scans rely on). SQLite
   gets nothing: the app never runs ``ANALYZE``, so its planner works from the schema alone,
   as it does in a real deployment;
4. times ``inbox()`` as the case views call it, each call in a fresh session, for each of
   ``scenarios()``, interleaved over ``--runs`` rounds after one untimed warm-up round; the
   count query's share is timed separately (SQLAlchemy cursor events). With fewer cases
   than 50,000, "page 1000" is the last page.

Nothing printed contains report content, identities, case codes, references or keys: only
counts and timings.
"""

from __future__ import annotations

import argparse
import bisect
import contextlib
import itertools
import os
import platform
import random
import secrets
import shutil
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from types import FrameType
from typing import Any, Generic, TypeVar

from benchkit import cpu_model, memory_gib, postgresql, ranked, shielded
from flask import Flask
from flask_babel import Babel
from sqlalchemy import Engine, event, insert, select, text
from sqlalchemy.orm import Session

from crypto import Argon2Params, KeyKind
from whistle.cases.inbox import InboxFilters, inbox
from whistle.core.clock import FixedClock
from whistle.core.db import make_engine, make_sessionmaker
from whistle.core.deadlines import acknowledge_due, feedback_due
from whistle.core.models import (
    Case,
    CaseKey,
    CaseOutcome,
    CaseStatus,
    Category,
    Membership,
    ReferenceCounter,
    Role,
    User,
)
from whistle.core.organisations import create_organisation
from whistle.core.schema import upgrade
from whistle.staff.passwords import hash_password

T = TypeVar("T")
ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
SEED = 20260302
YEARS = 3
BATCH = 2_000  # rows per bulk INSERT call
LAST = 10**9  # a page number past the end: inbox() shows the last page

# Categories as a busy unit sees them: harassment and "other serious matters" dominate.
CATEGORY_WEIGHTS = {
    "harassment": 24,
    "serious-matter": 20,
    "not-sure": 12,
    "financial-services": 8,
    "privacy-security": 8,
    "product-safety": 5,
    "environment": 4,
    "public-procurement": 4,
    "consumer-protection": 4,
    "food-safety": 3,
    "transport-safety": 3,
    "public-health": 2,
    "internal-market": 2,
    "eu-financial-interests": 1,
    "nuclear-safety": 0.5,
}
BUSY_CATEGORY = "harassment"

# Sizes of the real formats (crypto/): an HPKE-sealed case key (ML-KEM-768 + X25519) is
# 1179 bytes, the reporter's wrapped content key 95, the code lookup tag 32; encrypted
# fields are the Padmé-padded plaintext plus 34 bytes (header, nonce, tag).
SEALED_KEY_BYTES = 1179
REPORTER_KEY_BYTES = 95
TAG_BYTES = 32
FIELD_OVERHEAD = 34


# --- seeding ---------------------------------------------------------------------------------


class Weighted(Generic[T]):
    """A weighted choice that costs one random number (random.choices is slow per call)."""

    def __init__(self, weights: dict[T, float]) -> None:
        self.values = list(weights)
        self.cumulative = list(itertools.accumulate(weights.values()))

    def pick(self, rng: random.Random) -> T:
        return self.values[bisect.bisect(self.cumulative, rng.random() * self.cumulative[-1])]


OPEN_SCOPES: Weighted[str | None] = Weighted({"in_scope": 65, None: 30, "outside_scope": 5})
OUTCOMES: Weighted[str] = Weighted(
    {
        CaseOutcome.SUBSTANTIATED.value: 35,
        CaseOutcome.NOT_SUBSTANTIATED.value: 50,
        CaseOutcome.REFERRED.value: 10,
        CaseOutcome.KNOWINGLY_FALSE.value: 5,
    }
)


@dataclass(frozen=True)
class Seeded:
    org_id: int
    handler_id: int
    lead_id: int
    busy_category_id: int
    cases: int
    keys: int
    seconds: float


def padme(length: int) -> int:
    """The padded length crypto/fields.py gives a plaintext (Padmé), for realistic sizes."""
    length += 1  # the padding mark
    if length <= 32:
        return 32
    e = length.bit_length() - 1
    s = e.bit_length()
    mask = (1 << (e - s)) - 1
    return (length + mask) & ~mask


def field_bytes(rng: random.Random, median: int, spread: float) -> bytes:
    """Random ciphertext of a realistic size for a typed text around ``median`` bytes."""
    plain = max(40, int(rng.lognormvariate(0, spread) * median))
    return os.urandom(padme(plain) + FIELD_OVERHEAD)


def case_dict(
    rng: random.Random,
    case_id: int,
    org_id: int,
    reference: str,
    received: date,
    today: date,
    categories: Weighted[int],
    staff: tuple[int, int],
) -> dict[str, Any]:
    """One case as a unit would have left it on ``today``."""
    age = (today - received).days
    forgotten = rng.random() < 0.004  # nobody ever acted: overdue for good
    ack_delay = rng.choice((0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 9, 12, 20))
    acknowledged = None if forgotten or ack_delay > age else received + timedelta(ack_delay)
    feedback_on = closed_on = scope = outcome = hearing = None
    if acknowledged is not None:
        scope = OPEN_SCOPES.pick(rng)
        if rng.random() < 0.08:
            # Rejected as outside the Act (§ 12(3)): told and closed within a fortnight.
            closed = acknowledged + timedelta(rng.randint(0, 14))
            if closed <= today:
                scope, outcome = "outside_scope", CaseOutcome.OUTSIDE_SCOPE.value
                feedback_on = closed_on = closed
        elif rng.random() >= 0.01:  # 1 % stay open without feedback: overdue later on
            late = rng.random() < 0.07
            given = acknowledged + timedelta(rng.randint(92, 140) if late else rng.randint(20, 85))
            if given <= today:
                feedback_on = given
                closed = given + timedelta(rng.randint(0, 150))
                if closed <= today:
                    closed_on = closed
                    scope = "in_scope" if rng.random() < 0.95 else None
                    outcome = OUTCOMES.pick(rng)
                    if outcome == CaseOutcome.SUBSTANTIATED.value:
                        hearing = "held"
    if closed_on is not None:
        status, unread = CaseStatus.CLOSED.value, rng.random() < 0.01
    elif acknowledged is not None:
        status, unread = CaseStatus.OPEN.value, rng.random() < 0.35
    else:
        status, unread = CaseStatus.NEW.value, True
    anonymous = rng.random() < 0.6
    handler, lead = staff
    assignees = (handler,) * 9 + (lead,) * 7 + (None,) * 4  # 45 %, 35 %, 20 %
    return ranked(
        {
            "id": case_id,
            "uid": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "org_id": org_id,
            "reference": reference,
            "status": status,
            "category_id": categories.pick(rng) if rng.random() < 0.97 else None,
            "channel": "web",
            "anonymous": anonymous,
            "meeting_requested": rng.random() < 0.05,
            "received_on": received,
            "acknowledge_due": acknowledge_due(received),
            "acknowledged_on": acknowledged,
            "feedback_due": feedback_due(received, acknowledged),
            "feedback_on": feedback_on,
            "closed_on": closed_on,
            "reporter_tag": os.urandom(TAG_BYTES),
            "reporter_key": os.urandom(REPORTER_KEY_BYTES),
            "report": field_bytes(rng, 1500, 0.8),
            "identity": None if anonymous else field_bytes(rng, 120, 0.4),
            "nudge_address": field_bytes(rng, 30, 0.2) if rng.random() < 0.2 else None,
            "unread_for_handlers": unread,
            "unread_for_reporter": rng.random() < 0.1,
            "assigned_user_id": rng.choice(assignees),
            "scope": scope,
            "hearing": hearing,
            "outcome": outcome,
        }
    )


def seed_staff(session: Session, org_id: int, now: datetime) -> tuple[int, int]:
    """Handler A and unit lead B; their passwords are random and thrown away."""
    ids = []
    for name, roles in (
        ("Testa Testesen", [Role.HANDLER]),
        ("Lene Ledersen", [Role.LEAD, Role.HANDLER]),
    ):
        user = User(
            email=f"{name.lower().replace(' ', '.')}@example.org",
            display_name=name,
            password_hash=hash_password(secrets.token_urlsafe(16), Argon2Params.for_tests()),
            public_key=os.urandom(1216),
            wrapped_private_key=os.urandom(2500),
            is_active=True,
            created_at=now,
            confidentiality_ack_at=now,
        )
        session.add(user)
        session.flush()
        for role in roles:
            session.add(Membership(org_id=org_id, user_id=user.id, role=role, created_at=now))
        ids.append(user.id)
    return ids[0], ids[1]


def seed(engine: Engine, count: int, today: date) -> Seeded:
    """One organisation, two staff and ``count`` cases; returns ids and the time it took."""
    start = time.perf_counter()
    rng = random.Random(SEED)
    now = datetime.combine(today, datetime.min.time(), tzinfo=UTC)
    # create_organisation renders its category labels in Danish and English (flask-babel).
    app = Flask("whistle", root_path=str(ROOT / "whistle"))
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = "translations"
    Babel(app)
    with app.app_context(), Session(engine) as session:
        org = create_organisation(session, FixedClock(now), name="Benchfirma ApS", slug="bench")
        org_id = org.id
        handler_id, lead_id = seed_staff(session, org_id, now)
        rows = session.execute(select(Category.id, Category.code).where(Category.org_id == org_id))
        by_code = {code: category_id for category_id, code in rows}
        session.commit()
    categories = Weighted({by_code[code]: weight for code, weight in CATEGORY_WEIGHTS.items()})

    # Received days over three years, busier lately (the scheme became known); sorted so ids
    # and references follow the order of receipt, as intake gives them out.
    span = YEARS * 365
    days = sorted(today - timedelta(int(span * rng.random() ** 1.3)) for _ in range(count))
    counters: dict[int, int] = {}
    keys = 0
    with Session(engine) as session:
        for first in range(0, count, BATCH):
            cases, case_keys = [], []
            for offset, received in enumerate(days[first : first + BATCH]):
                case_id = first + offset + 1
                counters[received.year] = counters.get(received.year, 0) + 1
                reference = f"{received.year}-{counters[received.year]:04d}"
                cases.append(
                    case_dict(
                        rng,
                        case_id,
                        org_id,
                        reference,
                        received,
                        today,
                        categories,
                        (handler_id, lead_id),
                    )
                )
                # Staff hold the key of most cases, not all: the reporter excluded them, they
                # recused themselves, or the case came in before they joined.
                for user_id, share in ((handler_id, 0.90), (lead_id, 0.97)):
                    if rng.random() < share:
                        case_keys.append(
                            {
                                "org_id": org_id,
                                "case_id": case_id,
                                "kind": KeyKind.CONTENT.value,
                                "recipient": "user",
                                "user_id": user_id,
                                "sealed": os.urandom(SEALED_KEY_BYTES),
                            }
                        )
            # render_nulls: one multi-row statement per batch; without it the ORM groups
            # rows by which columns are NULL and sends thousands of small statements.
            session.execute(insert(Case).execution_options(render_nulls=True), cases)
            session.execute(insert(CaseKey).execution_options(render_nulls=True), case_keys)
            keys += len(case_keys)
        session.execute(
            insert(ReferenceCounter),
            [{"org_id": org_id, "year": y, "last": n} for y, n in counters.items()],
        )
        if engine.dialect.name == "postgresql":
            # Ids were given explicitly: move the sequence past them, as intake would find it.
            session.execute(
                text("SELECT setval(pg_get_serial_sequence('cases', 'id'), :n)"), {"n": count}
            )
        session.commit()
    return Seeded(
        org_id,
        handler_id,
        lead_id,
        by_code[BUSY_CATEGORY],
        count,
        keys,
        time.perf_counter() - start,
    )


# --- timing ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    label: str
    user: str  # "handler" or "lead"
    filters: InboxFilters


def scenarios(busy_category_id: int) -> list[Scenario]:
    base = InboxFilters()
    return [
        Scenario("default: first page, due first", "handler", base),
        Scenario("newest first", "handler", replace(base, sort="received_desc")),
        Scenario("page 1000", "handler", replace(base, page=1000)),
        Scenario("deadline: overdue", "handler", replace(base, deadline="overdue")),
        Scenario("deadline: due soon", "handler", replace(base, deadline="due_soon")),
        Scenario("deadline: on time", "handler", replace(base, deadline="on_time")),
        Scenario(
            "status open + category",
            "handler",
            replace(base, status=CaseStatus.OPEN.value, category_id=busy_category_id),
        ),
        Scenario("unread only", "handler", replace(base, unread=True)),
        Scenario("sort: feedback due", "handler", replace(base, sort="feedback_due")),
        Scenario("lead: all cases", "lead", replace(base, all_cases=True)),
        Scenario("lead: all cases, page 1000", "lead", replace(base, all_cases=True, page=1000)),
        # Beyond the brief: the slowest kinds of page found while tuning (docs/benchmarks.md).
        Scenario("status closed (most cases)", "handler", replace(base, status="closed")),
        Scenario("overdue, last page", "handler", replace(base, deadline="overdue", page=LAST)),
    ]


@dataclass
class Timings:
    total: list[float] = field(default_factory=list)
    count: list[float] = field(default_factory=list)
    matches: int = 0
    rows: int = 0


class StatementClock:
    """Times each statement on ``engine`` (cursor events); keeps the last ones for EXPLAIN."""

    def __init__(self, engine: Engine) -> None:
        self.seconds: list[tuple[str, float]] = []
        self.statements: list[tuple[str, Any]] = []
        self._started = 0.0
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, _conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        self.statements.append((statement, parameters))
        self._started = time.perf_counter()

    def _after(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        self.seconds.append((statement, time.perf_counter() - self._started))

    def reset(self) -> None:
        self.seconds.clear()
        self.statements.clear()


def time_inbox(
    engine: Engine, seeded: Seeded, today: date, runs: int, explain: bool
) -> list[tuple[Scenario, Timings]]:
    """``runs`` interleaved rounds over every scenario, after one untimed warm-up round."""
    sessions = make_sessionmaker(engine)
    clock = StatementClock(engine)
    chosen = scenarios(seeded.busy_category_id)
    results = [(scenario, Timings()) for scenario in chosen]
    for round_number in range(runs + 1):
        for scenario, timings in results:
            user_id = seeded.handler_id if scenario.user == "handler" else seeded.lead_id
            clock.reset()
            start = time.perf_counter()
            with sessions() as session:
                page = inbox(session, seeded.org_id, user_id, scenario.filters, today)
            elapsed = time.perf_counter() - start
            if round_number == 0:
                timings.matches, timings.rows = page.total, len(page.rows)
                if explain:
                    print_plans(engine, scenario.label, clock.statements)
                continue
            timings.total.append(elapsed)
            timings.count.append(
                sum(s for statement, s in clock.seconds if "count(" in statement.lower())
            )
    return results


def print_plans(engine: Engine, label: str, statements: list[tuple[str, Any]]) -> None:
    """The plans of the inbox's statements: EXPLAIN ANALYZE (PostgreSQL) or QUERY PLAN."""
    prefix = (
        "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) "
        if engine.dialect.name == "postgresql"
        else "EXPLAIN QUERY PLAN "
    )
    print(f"\n--- plans: {label} ({engine.dialect.name})")
    with engine.connect() as connection:
        for statement, parameters in statements:
            if not statement.lstrip().upper().startswith("SELECT"):
                continue
            print(statement.replace("\n", " ")[:160] + " ...")
            for row in connection.exec_driver_sql(prefix + statement, parameters):
                print("   ", " | ".join(str(v) for v in row))


def ms(seconds: float) -> float:
    return seconds * 1000


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]


def print_table(name: str, seeded: Seeded, results: list[tuple[Scenario, Timings]]) -> None:
    print(
        f"\n{name}: {seeded.cases:,} cases and {seeded.keys:,} sealed keys seeded in "
        f"{seeded.seconds:.1f} s"
    )
    print(
        f"  {'inbox() per page, ms':<36} {'median':>7} {'p95':>7} {'count median':>13} "
        f"{'matching':>9} {'rows':>5}"
    )
    for scenario, t in results:
        print(
            f"  {scenario.label:<36} {ms(statistics.median(t.total)):7.1f} "
            f"{ms(p95(t.total)):7.1f} {ms(statistics.median(t.count)):13.1f} "
            f"{t.matches:9,d} {t.rows:5d}"
        )


# --- the databases ---------------------------------------------------------------------------


@contextlib.contextmanager
def sqlite(workdir: Path) -> Iterator[tuple[Engine, str]]:
    path = workdir / f"inbox-bench-{secrets.token_hex(4)}.sqlite"
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            server = connection.scalar(text("SELECT sqlite_version()"))
        yield engine, f"SQLite {server}"
    finally:
        engine.dispose()
        for leftover in workdir.glob(f"{path.name}*"):  # the database and its WAL files
            leftover.unlink(missing_ok=True)


def run_one(
    opened: contextlib.AbstractContextManager[tuple[Engine, str]],
    args: argparse.Namespace,
    cases: int,
) -> tuple[bool, dict[str, float]]:
    """Migrate, seed ``cases`` and time one database: whether every page stayed under the
    target, and each scenario's median in ms."""
    today = date.today()
    with opened as (engine, name):
        start = time.perf_counter()
        upgrade(engine)
        migrated = time.perf_counter() - start
        seeded = seed(engine, cases, today)
        start = time.perf_counter()
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(text("VACUUM (ANALYZE)"))
        settled = time.perf_counter() - start
        with engine.connect() as connection:
            size = database_bytes(connection, engine.dialect.name)
            yardstick = calibrate(connection, engine.dialect.name)
        print(
            f"\n{name}: migrated in {migrated:.1f} s, database {size / 2**20:,.0f} MiB"
            + (f", VACUUM ANALYZE {settled:.1f} s" if engine.dialect.name == "postgresql" else "")
            + f"; counting 1,000,000 generated rows takes {ms(yardstick):.0f} ms here"
            + f"; timing {args.runs} rounds ...",
            flush=True,
        )
        results = time_inbox(engine, seeded, today, args.runs, args.explain)
        print_table(name, seeded, results)
    ok = all(ms(p95(t.total)) < args.target_ms for _, t in results)
    return ok, {s.label: ms(statistics.median(t.total)) for s, t in results}


# The yardstick applies to the inbox as a person opens it: the first page of the whole
# list. A filtered page costs what finding its matches costs, and "page 1000" is not the same
# page at every size (100 cases have no page 1000), so those are shown, not judged.
JUDGED = (
    "default: first page, due first",
    "newest first",
    "sort: feedback due",
    "lead: all cases",
)


def print_scaling(name: str, medians: dict[int, dict[str, float]]) -> bool:
    """The largest size's first page within 2x of the smallest's (the issue's target)."""
    sizes = sorted(medians)
    if len(sizes) < 2:
        return True
    smallest, largest = sizes[0], sizes[-1]
    print(f"\n{name}: median ms per page by number of cases; largest / smallest")
    print("  " + f"{'page':44s}" + "".join(f"{n:>10,d}" for n in sizes) + "     ratio")
    good = True
    for label in medians[smallest]:
        ratio = medians[largest][label] / medians[smallest][label]
        judged = label in JUDGED
        verdict = (
            ("  (target <= 2x: met)" if ratio <= 2 else "  (target <= 2x: MISSED)")
            if judged
            else ""
        )
        good = good and (ratio <= 2 or not judged)
        row = "".join(f"{medians[n][label]:10.1f}" for n in sizes)
        print(f"  {label:44s}{row}  {ratio:7.2f}x{verdict}")
    return good


def calibrate(connection: Any, dialect: str) -> float:
    """Seconds (best of 3) the database takes to count a million generated rows: a yardstick
    for comparing these figures with another machine's."""
    statement = (
        "SELECT count(*) FROM generate_series(1, 1000000)"
        if dialect == "postgresql"
        else "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 1000000)"
        " SELECT count(*) FROM n"
    )
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        connection.execute(text(statement)).scalar()
        best = min(best, time.perf_counter() - start)
    return best


def database_bytes(connection: Any, dialect: str) -> int:
    if dialect == "postgresql":
        return int(connection.scalar(text("SELECT pg_database_size(current_database())")))
    pages = connection.scalar(text("PRAGMA page_count"))
    page_size = connection.scalar(text("PRAGMA page_size"))
    return int(pages) * int(page_size)


# --- main ------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cases",
        type=int,
        nargs="+",
        default=[100, 10_000, 100_000],
        help="numbers of cases to seed, one fresh database each (default: 100 10000 100000)",
    )
    parser.add_argument("--runs", type=int, default=20, help="timed rounds per scenario")
    parser.add_argument("--quick", action="store_true", help="100 and 10,000 cases only")
    parser.add_argument(
        "--databases", default="postgresql,sqlite", help="which: postgresql, sqlite or both"
    )
    parser.add_argument("--target-ms", type=float, default=100, help="p95 target per page")
    parser.add_argument(
        "--explain", action="store_true", help="print the query plans of every scenario"
    )
    parser.add_argument(
        "--database-url",
        default=os.environ.get("WHISTLE_BENCH_DATABASE_URL", DEFAULT_ADMIN_URL),
        help="an existing PostgreSQL database to run CREATE/DROP DATABASE from",
    )
    args = parser.parse_args()
    if args.quick:
        args.cases = [100, 10_000]
    args.databases = [d.strip() for d in str(args.databases).split(",") if d.strip()]
    if min(args.cases) < 1 or args.runs < 1 or not set(args.databases) <= {"postgresql", "sqlite"}:
        parser.error("--cases and --runs must be positive; --databases: postgresql, sqlite")
    return args


def interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def main() -> int:
    args = parse_args()
    signal.signal(signal.SIGTERM, interrupt)
    cores = len(os.sched_getaffinity(0))
    print(f"machine: {cores} cores (nproc), {cpu_model()}, {memory_gib():.0f} GiB RAM")
    print(
        f"python {platform.python_version()}, SQLAlchemy {version('sqlalchemy')}, "
        f"psycopg {version('psycopg')}; 50 rows a page; median and p95 of {args.runs} runs"
    )
    workdir = Path(tempfile.mkdtemp(prefix="whistle-inbox-bench-"))
    good = True
    started = time.perf_counter()
    try:
        openers: dict[str, Callable[[], contextlib.AbstractContextManager[tuple[Engine, str]]]]
        openers = {
            "postgresql": lambda: postgresql(args.database_url),
            "sqlite": lambda: sqlite(workdir),
        }
        for name in args.databases:
            medians: dict[int, dict[str, float]] = {}
            for cases in args.cases:
                ok, medians[cases] = run_one(openers[name](), args, cases)
                good = ok and good
            good = print_scaling(name, medians) and good
        print(
            f"\nevery page under {args.target_ms:.0f} ms (p95), and the first page of the largest "
            f"list within 2x of the smallest: {'yes' if good else 'NO'}; "
            f"whole run {time.perf_counter() - started:.0f} s"
        )
    except KeyboardInterrupt:
        good = False
        print("\ninterrupted; cleaning up", file=sys.stderr)
    finally:
        # The PostgreSQL database was dropped on the way out of postgresql() above.
        with shielded():
            shutil.rmtree(workdir, ignore_errors=True)
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
