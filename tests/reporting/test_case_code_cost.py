"""The case code's key derivation has its own cost, sized for an 80-bit random secret; staff
passwords keep the full cost (crypto/kdf.py, ``Argon2Params.for_case_codes``)."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from crypto import CASE_CODE_BITS, Argon2Params
from crypto.case_codes import _HEADER as REPORTER_WRAP_HEADER
from crypto.kdf import decode_params
from tests.steps.factories import Unit
from tests.steps.reporter import ReportAnswers, Reporter
from whistle.casefile.key_wrapping import unwrap_reporter_key
from whistle.core.models import Case
from whistle.core.runtime import runtime


def reporter_wrap_params(session: Session, case: Case) -> Argon2Params:
    wrapped = unwrap_reporter_key(session, case)
    assert wrapped is not None, "the case has no reporter key"
    params, _salt = decode_params(wrapped[len(REPORTER_WRAP_HEADER) :])
    return params


def test_a_case_code_is_derived_at_the_case_code_cost_and_opens_the_mailbox(
    production_app: Flask, unit: Unit, session: Session
) -> None:
    reporter = Reporter(production_app, unit.org.slug)
    code = reporter.report(ReportAnswers(what="Fake report to check the case code's cost."))

    case = session.scalars(select(Case)).one()
    assert reporter_wrap_params(session, case) == Argon2Params(
        time_cost=2, memory_kib=19 * 1024, parallelism=1
    )
    # The follow-up reads the parameters from the stored blob and opens with the code.
    again = Reporter(production_app, unit.org.slug)
    assert again.open_case(code).status_code == 303
    assert again.mailbox().status_code == 200


def test_the_case_code_cost_rests_on_the_code_s_entropy_and_staff_keep_the_full_cost(
    production_app: Flask,
) -> None:
    rt = runtime(production_app)
    case_codes, passwords = rt.case_code_argon2, rt.argon2
    # The lower cost is only sound because the secret part of a code is 80 random bits.
    assert CASE_CODE_BITS >= 80
    # OWASP's smallest Argon2id setting for passwords is the floor, even for case codes.
    assert case_codes.memory_kib >= 19 * 1024 and case_codes.time_cost >= 2
    # Passwords are guessable: they keep RFC 9106's second recommendation.
    assert passwords == Argon2Params(time_cost=3, memory_kib=64 * 1024, parallelism=4)
    assert passwords.stronger_than(case_codes)
