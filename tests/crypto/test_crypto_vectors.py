"""Known-answer tests against the vectors committed in tests/crypto/vectors/.

The vectors were produced once by ``make_vectors.py`` from fixed inputs. Deterministic
derivations (Argon2id, lookup tags, key derivation, public keys, signatures, and every
format whose randomness can be injected) must reproduce them byte for byte; HPKE seals,
which draw their own randomness inside the library, must still open to the expected key.
A failure here means a stored blob from an older release would no longer open, or a format
changed without a version bump.

Keys are derived in the test from labelled seeds (never committed); passwords are obviously
fake.
"""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
import io
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

import crypto
from crypto import case_codes, fields, kdf, keypairs
from crypto._wire import encode_context
from crypto.streams import StreamEncryptor


def _load_generator() -> Any:
    """make_vectors.py by path (it is a script, not an importable module), for the
    labelled-seed helpers that made the vectors."""
    path = Path(__file__).with_name("make_vectors.py")
    spec = importlib.util.spec_from_file_location("whistle_crypto_make_vectors", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_generator = _load_generator()
VECTORS: Path = _generator.VECTORS
seed = _generator.seed
private_key_for = _generator.private_key_for
signing_key_for = _generator.signing_key_for


def params_from(data: dict[str, int]) -> crypto.Argon2Params:
    return crypto.Argon2Params(
        time_cost=data["time_cost"], memory_kib=data["memory_kib"], parallelism=data["parallelism"]
    )


def context_from(parts: list[Any]) -> crypto.Context:
    return tuple(parts)


def load(name: str) -> Any:
    return json.loads((VECTORS / f"{name}.json").read_text())


def h(data: str) -> bytes:
    return bytes.fromhex(data)


@pytest.mark.parametrize("vector", load("argon2id"), ids=lambda v: v["name"])
def test_argon2id_derivation_matches_vector_and_an_independent_implementation(
    vector: dict[str, Any],
) -> None:
    params = params_from(vector["params"])
    secret, salt = h(vector["secret"]), h(vector["salt"])
    derived = kdf.derive_key(secret, salt, params)
    assert derived.hex() == vector["key"]
    independent = Argon2id(
        salt=salt,
        length=32,
        iterations=params.time_cost,
        lanes=params.parallelism,
        memory_cost=params.memory_kib,
    ).derive(secret)
    assert derived == independent


def test_case_code_vectors() -> None:
    data = load("case_codes")
    for typed, canonical in data["normalise"]:
        assert crypto.normalise_case_code(typed) == canonical
    for vector in data["lookup_tags"]:
        tag = crypto.case_code_lookup_tag(h(vector["pepper"]), vector["code"], scope=1)
        assert tag.hex() == vector["tag"]
        label = b"WHS case-code lookup v1\x00" + crypto.normalise_case_code(vector["code"]).encode()
        assert tag == hmac.new(h(vector["pepper"]), label, hashlib.sha256).digest()
    for vector in data["reporter_keys"]:
        params = params_from(vector["params"])
        case_key = seed(vector["case_key_label"], 32)
        kind = crypto.KeyKind(vector["kind"])
        blob = case_codes._wrap_for_reporter(
            case_key,
            vector["code"],
            case_codes.case_key_context(vector["case_id"], kind),
            params,
            h(vector["salt"]),
            h(vector["nonce"]),
        )
        assert blob.hex() == vector["blob"]
        opened = crypto.open_case_key_for_reporter(
            h(vector["blob"]), vector["code"], case_id=vector["case_id"], kind=kind
        )
        assert opened == case_key


def test_case_code_v2_vectors() -> None:
    """Format 2: the tag covers the scope and the lookup part only; the reporter's seed is
    wrapped under the whole code; a seed determines its key pair."""
    data = load("case_codes_v2")
    for vector in data["lookup_tags"]:
        pepper, code = h(vector["pepper"]), vector["code"]
        tag = crypto.case_code_lookup_tag(pepper, code, scope=vector["scope"])
        assert tag.hex() == vector["tag"]
        label = b"WHS case-code lookup v2\x00" + encode_context(("lookup", vector["scope"]))
        lookup = crypto.normalise_case_code(code)[:4].encode()
        assert tag == hmac.new(pepper, label + lookup, hashlib.sha256).digest()
    for vector in data["reporter_seeds"]:
        params = params_from(vector["params"])
        secret = seed(vector["seed_label"], 32)
        blob = case_codes._wrap_for_reporter(
            secret,
            vector["code"],
            case_codes._reporter_seed_context(vector["case_id"]),
            params,
            h(vector["salt"]),
            h(vector["nonce"]),
        )
        assert blob.hex() == vector["blob"]
        opened = crypto.open_reporter_seed(
            h(vector["blob"]), vector["code"], case_id=vector["case_id"]
        )
        assert opened == secret
    for vector in data["key_pairs_from_seed"]:
        pair = crypto.PrivateKey.from_seed(seed(vector["seed_label"], 32))
        assert (
            hashlib.sha256(pair.public_key().to_bytes()).hexdigest() == vector["public_key_sha256"]
        )
        assert hashlib.sha256(pair.to_bytes()).hexdigest() == vector["private_key_sha256"]


@pytest.mark.parametrize("vector", load("fields"), ids=lambda v: v["name"])
def test_field_vectors(vector: dict[str, Any]) -> None:
    key = seed(vector["key_label"], 32)
    context = context_from(vector["context"])
    plaintext = h(vector["plaintext"])
    blob = fields._encrypt_field(key, plaintext, context, h(vector["nonce"]))
    assert blob.hex() == vector["blob"]
    assert crypto.decrypt_field(key, h(vector["blob"]), context=context) == plaintext


@pytest.mark.parametrize("vector", load("keypairs"), ids=lambda v: v["label"])
def test_key_pair_vectors(vector: dict[str, Any]) -> None:
    private = private_key_for(vector["label"])
    public = private.public_key()
    assert public.to_bytes().hex() == vector["public_key"]
    assert public.fingerprint() == vector["fingerprint"]
    assert hashlib.sha256(private.to_bytes()).hexdigest() == vector["private_key_sha256"]
    wrap = vector["wrapped"]
    params = params_from(wrap["params"])
    blob = keypairs._wrap(private, wrap["password"], params, h(wrap["salt"]), h(wrap["nonce"]))
    assert blob.hex() == wrap["blob"]
    unwrapped = crypto.unwrap_private_key(h(wrap["blob"]), wrap["password"])
    assert unwrapped.public_key() == public


@pytest.mark.parametrize("vector", load("sealed_case_keys"), ids=lambda v: v["name"])
def test_sealed_case_key_vectors_still_open(vector: dict[str, Any]) -> None:
    recipient = private_key_for(vector["recipient_label"])
    kind = crypto.KeyKind(vector["kind"])
    opened = crypto.open_case_key(
        recipient, h(vector["sealed"]), case_id=vector["case_id"], kind=kind
    )
    assert opened == seed(vector["case_key_label"], 32)


@pytest.mark.parametrize("vector", load("streams"), ids=lambda v: v["name"])
def test_stream_vectors(vector: dict[str, Any]) -> None:
    case_key = seed(vector["case_key_label"], 32)
    context = context_from(vector["context"])
    plaintext = seed(vector["plaintext_label"], vector["plaintext_size"])
    encryptor = StreamEncryptor._with_randomness(
        case_key,
        context,
        vector["segment_size"],
        file_key=h(vector["file_key"]),
        prefix=h(vector["prefix"]),
        wrap_nonce=h(vector["wrap_nonce"]),
    )
    assert (encryptor.update(plaintext) + encryptor.finalize()).hex() == vector["ciphertext"]
    source = io.BytesIO(h(vector["ciphertext"]))
    assert b"".join(crypto.decrypt_stream(source, case_key, context)) == plaintext


@pytest.mark.parametrize("vector", load("signatures"), ids=lambda v: v["purpose"])
def test_signature_vectors(vector: dict[str, Any]) -> None:
    key = signing_key_for(vector["label"])
    purpose = crypto.SignaturePurpose(vector["purpose"])
    message = h(vector["message"])
    assert key.verify_key().to_bytes().hex() == vector["verify_key"]
    signature = crypto.sign(key, message, purpose=purpose)
    assert signature.hex() == vector["signature"]
    verify_key = crypto.VerifyKey.from_bytes(h(vector["verify_key"]))
    crypto.verify(verify_key, message, h(vector["signature"]), purpose=purpose)


def test_recovery_text_vector() -> None:
    vector = load("recovery")
    key = private_key_for(vector["label"])
    text = crypto.export_recovery_key(key)
    assert hashlib.sha256(text.encode()).hexdigest() == vector["text_sha256"]
    assert text.splitlines()[:2] == vector["first_lines"]
    assert crypto.import_recovery_key(text).public_key() == key.public_key()
