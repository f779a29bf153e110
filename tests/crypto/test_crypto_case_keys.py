"""Case keys reach exactly the people they are sealed to, for exactly one case and kind."""

from __future__ import annotations

import functools
import itertools
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import crypto

KINDS = list(crypto.KeyKind)


@functools.cache
def handler() -> crypto.PrivateKey:
    return crypto.PrivateKey.generate()


@functools.cache
def other_handler() -> crypto.PrivateKey:
    return crypto.PrivateKey.generate()


@functools.cache
def keys() -> crypto.CaseKeys:
    return crypto.CaseKeys.generate()


@functools.cache
def sealed_content() -> bytes:
    return crypto.seal_case_key(
        handler().public_key(), keys().content, case_id=42, kind=crypto.KeyKind.CONTENT
    )


def test_case_keys_are_three_independent_256_bit_keys() -> None:
    case_keys = crypto.CaseKeys.generate()
    values = [case_keys[kind] for kind in KINDS]
    assert [len(v) for v in values] == [32, 32, 32]
    assert len(set(values)) == 3
    assert case_keys[crypto.KeyKind.NOTES] == case_keys.notes
    assert crypto.CaseKeys.generate().content != case_keys.content


def test_case_keys_repr_shows_no_key() -> None:
    case_keys = keys()
    assert repr(case_keys) == "CaseKeys(<secret>)"
    assert all(case_keys[kind].hex() not in repr(case_keys) for kind in KINDS)


def test_case_keys_must_be_256_bits() -> None:
    with pytest.raises(ValueError):
        crypto.CaseKeys(content=bytes(32), notes=bytes(31), identity=bytes(32))


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("case_id", [42, "42", uuid.UUID(int=42), "case-9f3b"])
def test_the_entitled_handler_opens_each_kind(kind: crypto.KeyKind, case_id: crypto.CaseId) -> None:
    sealed = crypto.seal_case_key(handler().public_key(), keys()[kind], case_id=case_id, kind=kind)
    assert len(sealed) == 1179
    assert crypto.open_case_key(handler(), sealed, case_id=case_id, kind=kind) == keys()[kind]


def test_int_and_text_case_ids_are_the_same_case() -> None:
    opened = crypto.open_case_key(
        handler(), sealed_content(), case_id="42", kind=crypto.KeyKind.CONTENT
    )
    assert opened == keys().content


def test_a_handler_left_off_the_case_cannot_open_it() -> None:
    with pytest.raises(crypto.OpenError):
        crypto.open_case_key(
            other_handler(), sealed_content(), case_id=42, kind=crypto.KeyKind.CONTENT
        )


def test_a_sealed_key_copied_to_another_case_does_not_open() -> None:
    for other in (43, "42 ", 420, "4"):
        with pytest.raises(crypto.OpenError):
            crypto.open_case_key(
                handler(), sealed_content(), case_id=other, kind=crypto.KeyKind.CONTENT
            )


@pytest.mark.parametrize(("sealed_as", "opened_as"), list(itertools.permutations(KINDS, 2)))
def test_a_sealed_key_relabelled_as_another_kind_does_not_open(
    sealed_as: crypto.KeyKind, opened_as: crypto.KeyKind
) -> None:
    sealed = crypto.seal_case_key(
        handler().public_key(), keys()[sealed_as], case_id=1, kind=sealed_as
    )
    with pytest.raises(crypto.OpenError):
        crypto.open_case_key(handler(), sealed, case_id=1, kind=opened_as)


def test_two_seals_of_one_key_look_unrelated() -> None:
    again = crypto.seal_case_key(
        handler().public_key(), keys().content, case_id=42, kind=crypto.KeyKind.CONTENT
    )
    assert again != sealed_content()
    assert again[11:43] != sealed_content()[11:43]


@given(data=st.data())
@settings(max_examples=120, deadline=None)
def test_flipping_any_bit_is_detected(data: st.DataObject) -> None:
    blob = bytearray(sealed_content())
    bit = data.draw(st.integers(min_value=0, max_value=len(blob) * 8 - 1))
    blob[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(crypto.OpenError):
        crypto.open_case_key(handler(), bytes(blob), case_id=42, kind=crypto.KeyKind.CONTENT)


@given(cut=st.integers(min_value=0, max_value=1178))
@settings(max_examples=80, deadline=None)
def test_cutting_at_any_point_is_detected(cut: int) -> None:
    with pytest.raises(crypto.OpenError):
        crypto.open_case_key(
            handler(), sealed_content()[:cut], case_id=42, kind=crypto.KeyKind.CONTENT
        )


def test_appended_bytes_are_detected() -> None:
    with pytest.raises(crypto.OpenError):
        crypto.open_case_key(
            handler(), sealed_content() + b"\x00", case_id=42, kind=crypto.KeyKind.CONTENT
        )


@pytest.mark.parametrize(
    ("offset", "value"), [(0, 0), (3, ord("F")), (4, 2), (5, 0), (8, 0), (10, 1)]
)
def test_unknown_header_bytes_are_refused(offset: int, value: int) -> None:
    blob = bytearray(sealed_content())
    blob[offset] = value
    with pytest.raises(crypto.OpenError):
        crypto.open_case_key(handler(), bytes(blob), case_id=42, kind=crypto.KeyKind.CONTENT)


def test_kind_must_be_a_key_kind() -> None:
    with pytest.raises(TypeError):
        crypto.seal_case_key(handler().public_key(), bytes(32), case_id=1, kind="content")  # type: ignore[arg-type]


def test_a_sealed_key_is_bound_to_its_epoch() -> None:
    """Key epochs: a key sealed for one epoch does not open as another's, so a row copied to a
    newer epoch cannot make an old key pass for a new one; epoch 0 is sealed as before."""
    private = crypto.PrivateKey.generate()
    key = crypto.CaseKeys.generate().content
    kind = crypto.KeyKind.CONTENT
    sealed = crypto.seal_case_key(private.public_key(), key, case_id=9, kind=kind, epoch=3)
    assert crypto.open_case_key(private, sealed, case_id=9, kind=kind, epoch=3) == key
    for other in (0, 2, 4):
        with pytest.raises(crypto.OpenError):
            crypto.open_case_key(private, sealed, case_id=9, kind=kind, epoch=other)
    first = crypto.seal_case_key(private.public_key(), key, case_id=9, kind=kind)
    assert crypto.open_case_key(private, first, case_id=9, kind=kind, epoch=0) == key
    with pytest.raises(crypto.OpenError):
        crypto.open_case_key(private, first, case_id=9, kind=kind, epoch=1)
    with pytest.raises(ValueError):
        crypto.seal_case_key(private.public_key(), key, case_id=9, kind=kind, epoch=-1)
