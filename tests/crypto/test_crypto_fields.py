"""Field encryption: what a handler or reporter types is stored only as ciphertext that
opens under the right key, for the right record, unchanged."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import crypto
from crypto.fields import _padme

KEY = bytes(range(32))
CONTEXT: crypto.Context = ("message", 7, 12)

context_parts = st.one_of(st.text(max_size=20), st.integers(), st.binary(max_size=20), st.uuids())
contexts = st.lists(context_parts, min_size=1, max_size=4).map(tuple)


@given(plaintext=st.binary(max_size=2000), context=contexts)
@settings(max_examples=60, deadline=None)
def test_round_trip(plaintext: bytes, context: crypto.Context) -> None:
    blob = crypto.encrypt_field(KEY, plaintext, context=context)
    assert crypto.decrypt_field(KEY, blob, context=context) == plaintext


def test_plaintext_never_appears_in_the_blob() -> None:
    secret = b"the CFO moved money to Cyprus"
    assert secret not in crypto.encrypt_field(KEY, secret, context=CONTEXT)


def test_same_plaintext_encrypts_differently_each_time() -> None:
    first = crypto.encrypt_field(KEY, b"same", context=CONTEXT)
    second = crypto.encrypt_field(KEY, b"same", context=CONTEXT)
    assert first != second


def test_short_answers_cannot_be_told_apart_by_length() -> None:
    sizes = {len(crypto.encrypt_field(KEY, text, context=CONTEXT)) for text in (b"", b"no", b"yes")}
    assert len(sizes) == 1


@given(length=st.integers(min_value=0, max_value=1 << 20))
@settings(deadline=None)
def test_padding_costs_at_most_12_percent_and_hides_low_bits(length: int) -> None:
    padded = _padme(length + 1)
    assert padded >= length + 1
    assert padded <= max(32, (length + 1) * 1.125)


def test_context_ints_uuids_and_their_text_are_the_same_part() -> None:
    case = uuid.uuid4()
    blob = crypto.encrypt_field(KEY, b"x", context=("report", case, 7))
    assert crypto.decrypt_field(KEY, blob, context=("report", str(case), "7")) == b"x"


@pytest.mark.parametrize(
    "other",
    [
        ("message", 7, 13),  # another record
        ("message", 8, 12),  # another case
        ("note", 7, 12),  # another kind of record
        ("message", 7),  # fewer parts
        ("message", 7, 12, 0),  # more parts
        ("message", b"7", 12),  # bytes are not text
        ("message7", 12),  # parts do not run together
    ],
)
def test_a_blob_moved_to_another_record_does_not_open(other: crypto.Context) -> None:
    blob = crypto.encrypt_field(KEY, b"secret", context=CONTEXT)
    with pytest.raises(crypto.OpenError):
        crypto.decrypt_field(KEY, blob, context=other)


def test_wrong_key_does_not_open() -> None:
    blob = crypto.encrypt_field(KEY, b"secret", context=CONTEXT)
    with pytest.raises(crypto.OpenError):
        crypto.decrypt_field(bytes(32), blob, context=CONTEXT)


@given(data=st.data())
@settings(max_examples=150, deadline=None)
def test_flipping_any_bit_is_detected(data: st.DataObject) -> None:
    blob = bytearray(crypto.encrypt_field(KEY, b"report text", context=CONTEXT))
    bit = data.draw(st.integers(min_value=0, max_value=len(blob) * 8 - 1))
    blob[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(crypto.OpenError):
        crypto.decrypt_field(KEY, bytes(blob), context=CONTEXT)


def test_cutting_at_any_point_or_appending_is_detected() -> None:
    blob = crypto.encrypt_field(KEY, b"report text", context=CONTEXT)
    for cut in range(len(blob)):
        with pytest.raises(crypto.OpenError):
            crypto.decrypt_field(KEY, blob[:cut], context=CONTEXT)
    with pytest.raises(crypto.OpenError):
        crypto.decrypt_field(KEY, blob + b"\x00", context=CONTEXT)


@pytest.mark.parametrize(
    ("offset", "value"), [(0, ord("X")), (3, ord("K")), (4, 2), (4, 0), (5, 0x02)]
)
def test_unknown_magic_kind_version_or_algorithm_is_refused(offset: int, value: int) -> None:
    blob = bytearray(crypto.encrypt_field(KEY, b"x", context=CONTEXT))
    blob[offset] = value
    with pytest.raises(crypto.OpenError):
        crypto.decrypt_field(KEY, bytes(blob), context=CONTEXT)


def test_error_message_carries_no_secret() -> None:
    blob = crypto.encrypt_field(KEY, b"secret words", context=CONTEXT)
    with pytest.raises(crypto.OpenError) as caught:
        crypto.decrypt_field(bytes(32), blob, context=CONTEXT)
    message = str(caught.value)
    assert "secret" not in message and KEY.hex() not in message and "7" not in message


@pytest.mark.parametrize(
    ("context", "error"),
    [((), ValueError), ("message", TypeError), (["message"], TypeError), (("x", True), TypeError)],
)
def test_context_must_be_a_non_empty_tuple_of_parts(context: object, error: type) -> None:
    with pytest.raises(error):
        crypto.encrypt_field(KEY, b"x", context=context)  # type: ignore[arg-type]


@pytest.mark.parametrize("key", [b"", bytes(16), bytes(33)])
def test_keys_must_be_256_bits(key: bytes) -> None:
    with pytest.raises(ValueError):
        crypto.encrypt_field(key, b"x", context=CONTEXT)


def test_a_record_key_needs_both_keys_and_its_context() -> None:
    """A record of format 2 opens with a key derived from its case key and its own item key:
    another case key, another item key or another record's context gives another key."""
    case_key, item_key = bytes(range(32)), bytes(range(32, 64))
    key = crypto.derive_record_key(case_key, item_key, context=("message", "c", "m"))
    assert len(key) == 32 and key not in (case_key, item_key)
    assert key == crypto.derive_record_key(case_key, item_key, context=("message", "c", "m"))
    others = {
        crypto.derive_record_key(bytes(32), item_key, context=("message", "c", "m")),
        crypto.derive_record_key(case_key, bytes(32), context=("message", "c", "m")),
        crypto.derive_record_key(case_key, item_key, context=("message", "c", "n")),
        crypto.derive_record_key(item_key, case_key, context=("message", "c", "m")),
    }
    assert key not in others and len(others) == 4
    blob = crypto.encrypt_field(key, b"Fake record", context=("message", "c", "m"))
    with pytest.raises(crypto.OpenError):
        crypto.decrypt_field(case_key, blob, context=("message", "c", "m"))
    with pytest.raises(ValueError):
        crypto.derive_record_key(case_key, bytes(31), context=("x",))
