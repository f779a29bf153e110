"""Passwords at sign-in (issue 14, item 9): the private key is rewrapped only to stronger
Argon2 parameters, never weaker ones; and a password is the same in its composed and its
decomposed spelling (NFC), for the sign-in hash as for the key wrap."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator

import pytest
from argon2 import PasswordHasher, extract_parameters
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from crypto import Argon2Params, unwrap_private_key, wrap_private_key
from tests.steps.factories import TEST_PASSWORD, Staff, Unit, make_unit
from tests.steps.pages import text_of
from tests.steps.sign_in import (
    accept_link,
    browser,
    change_password,
    enter_password,
    field_errors,
    invite,
    link_on,
    newcomer,
    signed_in_admin,
    user,
)
from whistle.core.clock import FixedClock
from whistle.core.models import User
from whistle.core.runtime import runtime

# Stronger than the test profile (t=1, 64 KiB), and still cheap.
STRONGER = Argon2Params(time_cost=2, memory_kib=128, parallelism=1)
TEST_PROFILE = Argon2Params.for_tests()
# One password, two spellings: "å" as one code point, or "a" and a combining ring above.
COMPOSED = unicodedata.normalize("NFC", "Blåbærgrød på Ærø hver fredag")
DECOMPOSED = unicodedata.normalize("NFD", COMPOSED)
assert COMPOSED != DECOMPOSED


def key_params(blob: bytes | None) -> tuple[int, int, int]:
    """(t, m KiB, p) of a wrapped key, where docs/crypto.md puts them (bytes 9, 13, 17)."""
    assert blob is not None
    t, m, p = (int.from_bytes(blob[i : i + 4], "big") for i in (9, 13, 17))
    return t, m, p


def hash_params(stored: str) -> tuple[int, int, int]:
    found = extract_parameters(stored)
    return found.time_cost, found.memory_cost, found.parallelism


def set_password_as_before(
    db: Session, staff: Staff, password: str, params: Argon2Params = TEST_PROFILE
) -> None:
    """Give ``staff`` a hash and a key wrap made from ``password`` exactly as typed, with
    ``params``: what the code before NFC normalisation stored."""
    assert staff.private_key is not None
    row = db.get_one(User, staff.user.id)
    hasher = PasswordHasher(
        time_cost=params.time_cost, memory_cost=params.memory_kib, parallelism=params.parallelism
    )
    row.password_hash = hasher.hash(password)
    row.wrapped_private_key = wrap_private_key(staff.private_key, password, params)
    db.commit()


@pytest.fixture
def db(app: Flask) -> Iterator[Session]:
    with runtime(app).sessions() as session:
        yield session


@pytest.fixture
def other_unit(app: Flask, clock: FixedClock, unit: Unit) -> Unit:
    with app.app_context(), runtime(app).sessions() as session:
        return make_unit(session, clock, runtime(app).settings.instance_key, slug="andetfirma")


# --- rewrap only to stronger parameters ---------------------------------------------------------


def test_signing_in_under_a_weaker_profile_leaves_a_stronger_key_as_it_is(
    app: Flask, clock: FixedClock, unit: Unit, db: Session
) -> None:
    hanne = unit.handlers[0]
    set_password_as_before(db, hanne, TEST_PASSWORD, STRONGER)
    before = user(db, hanne.user.id).wrapped_private_key
    assert runtime(app).argon2 == TEST_PROFILE

    assert browser(app, clock, hanne).sign_in().status_code == 303

    after = user(db, hanne.user.id).wrapped_private_key
    assert after == before, "not rewrapped to the weaker test profile"
    assert key_params(after) == (2, 128, 1)


def test_signing_in_under_a_stronger_configuration_rewraps_the_key_once(
    production_app: Flask, clock: FixedClock, unit: Unit, db: Session
) -> None:
    hanne = unit.handlers[0]
    assert hanne.private_key is not None
    assert key_params(user(db, hanne.user.id).wrapped_private_key) == (1, 64, 1)

    member = browser(production_app, clock, hanne)
    assert member.sign_in().status_code == 303

    upgraded = user(db, hanne.user.id).wrapped_private_key
    assert key_params(upgraded) == (3, 64 * 1024, 4)
    assert unwrap_private_key(upgraded or b"", TEST_PASSWORD).to_bytes() == (
        hanne.private_key.to_bytes()
    )
    member.sign_out()
    assert member.sign_in().status_code == 303
    assert user(db, hanne.user.id).wrapped_private_key == upgraded, "no second rewrap"


def test_a_password_change_under_a_weaker_profile_keeps_the_stronger_cost(
    app: Flask, clock: FixedClock, unit: Unit, db: Session
) -> None:
    hanne = unit.handlers[0]
    set_password_as_before(db, hanne, TEST_PASSWORD, STRONGER)
    member = browser(app, clock, hanne)
    member.sign_in()

    new = "en-helt-anden-adgangskode-til-test"
    assert change_password(member, TEST_PASSWORD, new).status_code == 303

    row = user(db, hanne.user.id)
    assert key_params(row.wrapped_private_key) == (2, 128, 1)
    assert hash_params(row.password_hash)[:2] == (2, 128)
    member.sign_out()
    assert member.sign_in(new).status_code == 303


# --- one password, two spellings ---------------------------------------------------------------


def test_a_password_set_in_one_spelling_signs_in_with_the_other(
    app: Flask, clock: FixedClock, unit: Unit, db: Session
) -> None:
    link = link_on(
        invite(signed_in_admin(app, clock, unit), "testa.testesen@example.org", "handler")
    )
    testa = newcomer(app, clock)
    joined = accept_link(
        testa,
        link,
        {"display_name": "Testa Testesen", "password": DECOMPOSED, "confirm": DECOMPOSED},
    )
    assert joined.status_code == 303, text_of(joined)[:300]
    row = db.scalars(select(User).where(User.email == "testa.testesen@example.org")).one()
    assert PasswordHasher().verify(row.password_hash, COMPOSED), "hashed in NFC"

    for typed in (COMPOSED, DECOMPOSED):
        elsewhere = newcomer(app, clock)
        step = enter_password(elsewhere, typed)
        assert step.status_code == 303, field_errors(step, "password")
        assert step.headers["Location"].startswith("/staff/sign-in/enrol")
    assert field_errors(enter_password(newcomer(app, clock), COMPOSED[:-1]), "password")


def test_an_old_hash_of_a_decomposed_password_works_and_is_rehashed_in_nfc(
    app: Flask, clock: FixedClock, unit: Unit, db: Session
) -> None:
    hanne = unit.handlers[0]
    set_password_as_before(db, hanne, DECOMPOSED, STRONGER)
    old_hash = user(db, hanne.user.id).password_hash
    assert not _verifies(old_hash, COMPOSED), "the old hash knows only the typed spelling"

    assert browser(app, clock, hanne).sign_in(DECOMPOSED).status_code == 303

    new_hash = user(db, hanne.user.id).password_hash
    assert new_hash != old_hash
    assert _verifies(new_hash, COMPOSED), "rehashed in NFC"
    assert hash_params(new_hash)[:2] == (2, 128), "and not at the weaker test profile"
    other_keyboard = browser(app, clock, hanne)
    assert other_keyboard.sign_in(COMPOSED).status_code == 303


def test_a_password_change_to_a_decomposed_spelling_signs_in_composed(
    app: Flask, clock: FixedClock, unit: Unit, db: Session
) -> None:
    hanne = unit.handlers[0]
    assert hanne.private_key is not None
    member = browser(app, clock, hanne)
    member.sign_in()

    assert change_password(member, TEST_PASSWORD, DECOMPOSED).status_code == 303
    again = change_password(member, DECOMPOSED, COMPOSED)
    assert field_errors(again, "new") == "Choose a password different from the current one."

    row = user(db, hanne.user.id)
    assert _verifies(row.password_hash, COMPOSED)
    key = unwrap_private_key(row.wrapped_private_key or b"", COMPOSED)
    assert key.to_bytes() == hanne.private_key.to_bytes()
    member.sign_out()
    assert member.sign_in(COMPOSED).status_code == 303


def _verifies(stored: str, password: str) -> bool:
    try:
        return PasswordHasher().verify(stored, password)
    except Exception:  # noqa: BLE001 - any refusal means "does not verify"
        return False
