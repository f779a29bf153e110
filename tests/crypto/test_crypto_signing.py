"""Receipts and export manifests: signatures that verify only for the message, key and
purpose they were made for."""

from __future__ import annotations

import functools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import crypto

RECEIPT = crypto.SignaturePurpose.RECEIPT
MANIFEST = crypto.SignaturePurpose.EXPORT_MANIFEST
MESSAGE = b'{"date":"2026-03-02","org":"acme","reference":"2026-0001"}'


@functools.cache
def org_key() -> crypto.SigningKey:
    return crypto.SigningKey.generate()


@functools.cache
def receipt_signature() -> bytes:
    return crypto.sign(org_key(), MESSAGE, purpose=RECEIPT)


def test_a_receipt_verifies_with_the_published_key() -> None:
    published = crypto.VerifyKey.from_bytes(org_key().verify_key().to_bytes())
    crypto.verify(published, MESSAGE, receipt_signature(), purpose=RECEIPT)
    assert len(receipt_signature()) == 70 and receipt_signature()[:6] == b"WHSG\x01\x01"


def test_signatures_are_deterministic() -> None:
    assert crypto.sign(org_key(), MESSAGE, purpose=RECEIPT) == receipt_signature()


def test_a_receipt_signature_is_not_a_manifest_signature() -> None:
    with pytest.raises(crypto.OpenError):
        crypto.verify(org_key().verify_key(), MESSAGE, receipt_signature(), purpose=MANIFEST)
    assert crypto.sign(org_key(), MESSAGE, purpose=MANIFEST) != receipt_signature()


@pytest.mark.parametrize("made_for", list(crypto.SignaturePurpose), ids=lambda p: p.value)
def test_a_signature_verifies_for_its_own_purpose_only(made_for: crypto.SignaturePurpose) -> None:
    """Receipts, manifests and bundle headers are all signed by one key over bytes the server
    chooses: none may pass for another."""
    signature = crypto.sign(org_key(), MESSAGE, purpose=made_for)
    crypto.verify(org_key().verify_key(), MESSAGE, signature, purpose=made_for)
    for other in crypto.SignaturePurpose:
        if other is not made_for:
            with pytest.raises(crypto.OpenError):
                crypto.verify(org_key().verify_key(), MESSAGE, signature, purpose=other)


def test_another_organisation_key_does_not_verify() -> None:
    with pytest.raises(crypto.OpenError):
        crypto.verify(
            crypto.SigningKey.generate().verify_key(), MESSAGE, receipt_signature(), purpose=RECEIPT
        )


@given(data=st.data())
@settings(max_examples=80, deadline=None)
def test_a_changed_message_does_not_verify(data: st.DataObject) -> None:
    message = bytearray(MESSAGE)
    bit = data.draw(st.integers(min_value=0, max_value=len(message) * 8 - 1))
    message[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(crypto.OpenError):
        crypto.verify(org_key().verify_key(), bytes(message), receipt_signature(), purpose=RECEIPT)


@given(data=st.data())
@settings(max_examples=80, deadline=None)
def test_a_changed_signature_does_not_verify(data: st.DataObject) -> None:
    signature = bytearray(receipt_signature())
    bit = data.draw(st.integers(min_value=0, max_value=len(signature) * 8 - 1))
    signature[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(crypto.OpenError):
        crypto.verify(org_key().verify_key(), MESSAGE, bytes(signature), purpose=RECEIPT)


def test_cut_or_extended_signatures_do_not_verify() -> None:
    signature = receipt_signature()
    for cut in range(len(signature)):
        with pytest.raises(crypto.OpenError):
            crypto.verify(org_key().verify_key(), MESSAGE, signature[:cut], purpose=RECEIPT)
    with pytest.raises(crypto.OpenError):
        crypto.verify(org_key().verify_key(), MESSAGE, signature + b"\x00", purpose=RECEIPT)


def test_signing_key_round_trips_and_hides_itself() -> None:
    restored = crypto.SigningKey.from_bytes(org_key().to_bytes())
    assert restored.verify_key() == org_key().verify_key()
    assert repr(org_key()) == "SigningKey(<secret>)"
    assert org_key().verify_key().fingerprint() in repr(org_key().verify_key())
    assert hash(restored.verify_key()) == hash(org_key().verify_key())


@pytest.mark.parametrize(
    ("loader", "blob"),
    [
        (crypto.SigningKey.from_bytes, b"WHSE\x02\x01" + bytes(32)),
        (crypto.SigningKey.from_bytes, b"WHSE\x01\x01" + bytes(31)),
        (crypto.SigningKey.from_bytes, b"WHSV\x01\x01" + bytes(32)),
        (crypto.VerifyKey.from_bytes, b"WHSV\x01\x02" + bytes(32)),
        (crypto.VerifyKey.from_bytes, b""),
    ],
)
def test_malformed_keys_are_refused(loader: object, blob: bytes) -> None:
    with pytest.raises(crypto.OpenError):
        loader(blob)  # type: ignore[operator]


def test_purpose_must_be_a_signature_purpose() -> None:
    with pytest.raises(TypeError):
        crypto.sign(org_key(), MESSAGE, purpose="submission-receipt")  # type: ignore[arg-type]
