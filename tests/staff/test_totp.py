"""TOTP codes (RFC 6238): the right code at the right time, once, and nothing else."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, unquote, urlsplit

from whistle.staff import totp

RFC_SECRET = b"12345678901234567890"  # RFC 6238 appendix B, the SHA-1 seed
# Fixed, so that every run checks the same codes (no one-in-a-million collisions).
SECRET = b"testa-testesen-totp!"
OTHER_SECRET = b"henrik-handler-totp!"
NOW = datetime(2026, 3, 2, 9, 0, 15, tzinfo=UTC)
STEP = timedelta(seconds=totp.STEP_SECONDS)


def test_rfc_6238_test_vector_for_sha1() -> None:
    # At T = 59 s the 8-digit code is 94287082; six digits are its last six.
    moment = datetime.fromtimestamp(59, UTC)
    assert totp.code_at(RFC_SECRET, moment) == "287082"
    accepted = totp.check_code(RFC_SECRET, "287082", moment, last_step=None)
    assert accepted is not None
    assert accepted.step == 1


def test_other_rfc_6238_sha1_vectors_match_their_last_six_digits() -> None:
    vectors = {
        1111111109: "07081804",
        1111111111: "14050471",
        1234567890: "89005924",
        2000000000: "69279037",
    }
    for seconds, eight_digits in vectors.items():
        moment = datetime.fromtimestamp(seconds, UTC)
        assert totp.code_at(RFC_SECRET, moment) == eight_digits[-6:]
        assert totp.check_code(RFC_SECRET, eight_digits[-6:], moment, last_step=None)


def test_the_current_code_is_accepted_for_its_time_step() -> None:
    secret = SECRET
    accepted = totp.check_code(secret, totp.code_at(secret, NOW), NOW, last_step=None)
    assert accepted is not None
    assert accepted.step == int(NOW.timestamp()) // totp.STEP_SECONDS


def test_codes_one_step_old_or_new_are_accepted_for_clock_drift() -> None:
    secret = SECRET
    for offset in (-1, 1):
        code = totp.code_at(secret, NOW + offset * STEP)
        accepted = totp.check_code(secret, code, NOW, last_step=None)
        assert accepted is not None, offset
        assert accepted.step == int(NOW.timestamp()) // totp.STEP_SECONDS + offset


def test_codes_two_steps_off_are_refused() -> None:
    window = {totp.code_at(SECRET, NOW + k * STEP) for k in (-1, 0, 1)}
    for offset in (-2, 2, -3, 3):
        code = totp.code_at(SECRET, NOW + offset * STEP)
        assert code not in window  # true for this fixed secret, so the check below means it
        assert totp.check_code(SECRET, code, NOW, last_step=None) is None, offset


def test_a_code_is_never_accepted_twice() -> None:
    secret = SECRET
    code = totp.code_at(secret, NOW)
    first = totp.check_code(secret, code, NOW, last_step=None)
    assert first is not None
    assert totp.check_code(secret, code, NOW, last_step=first.step) is None
    # Nor an older code still inside the drift window once a newer one was used.
    older = totp.code_at(secret, NOW - STEP)
    assert totp.check_code(secret, older, NOW, last_step=first.step) is None
    # The next step's code is fine.
    later = NOW + STEP
    assert totp.check_code(secret, totp.code_at(secret, later), later, last_step=first.step)


def test_a_wrong_or_malformed_code_is_refused() -> None:
    secret = SECRET
    right = totp.code_at(secret, NOW)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    assert totp.check_code(secret, wrong, NOW, last_step=None) is None
    assert totp.check_code(secret, right[:5], NOW, last_step=None) is None
    assert totp.check_code(secret, right + "0", NOW, last_step=None) is None
    assert totp.check_code(secret, "", NOW, last_step=None) is None
    assert totp.check_code(secret, "abcdef", NOW, last_step=None) is None
    # Another person's code does not open this account.
    other = totp.code_at(OTHER_SECRET, NOW)
    assert other != right
    assert totp.check_code(secret, other, NOW, last_step=None) is None


def test_spaces_people_type_are_ignored() -> None:
    secret = SECRET
    code = totp.code_at(secret, NOW)
    assert totp.check_code(secret, f" {code[:3]} {code[3:]} ", NOW, last_step=None)


def test_secret_is_sealed_to_the_instance_and_the_user() -> None:
    secret = totp.new_secret()
    key = bytes(range(32))
    sealed = totp.seal_secret(secret, key, 7)
    assert secret not in sealed
    assert totp.open_secret(sealed, key, 7) == secret
    assert totp.open_secret(sealed, key, 8) is None, "another user's row cannot reuse it"
    assert totp.open_secret(sealed, bytes(32), 7) is None, "another instance cannot open it"


def test_the_qr_uri_and_the_typed_key_carry_the_same_secret() -> None:
    secret = totp.new_secret()
    uri = totp.provisioning_uri(secret, account="testa@example.org", issuer="Whistle")
    parts = urlsplit(uri)
    assert parts.scheme == "otpauth"
    assert parts.netloc == "totp"
    assert unquote(parts.path) == "/Whistle:testa@example.org"
    query = parse_qs(parts.query)
    assert query["digits"] == ["6"]
    assert query["period"] == ["30"]
    assert query["algorithm"] == ["SHA1"]
    encoded = query["secret"][0]
    assert base64.b32decode(encoded + "=" * (-len(encoded) % 8)) == secret
    assert totp.secret_text(secret).replace(" ", "") == encoded
