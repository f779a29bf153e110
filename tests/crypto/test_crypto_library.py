"""Properties of the library as a whole: versioned formats, one failure type, configuration,
no web framework, no global mutable state, a docstring on everything public."""

from __future__ import annotations

import dataclasses
import inspect
import io
import subprocess
import sys
import types
from collections.abc import Callable

import pytest

import crypto

PARAMS = crypto.Argon2Params.for_tests()
KEY = bytes(32)


def _blobs() -> dict[str, tuple[bytes, Callable[[bytes], object]]]:
    private = crypto.PrivateKey.generate()
    signing = crypto.SigningKey.generate()
    code = crypto.generate_case_code()
    content = crypto.KeyKind.CONTENT
    stream = io.BytesIO()
    crypto.encrypt_stream(io.BytesIO(b"file"), stream, KEY, ("a", 1))
    return {
        "field": (
            crypto.encrypt_field(KEY, b"x", context=("f", 1)),
            lambda b: crypto.decrypt_field(KEY, b, context=("f", 1)),
        ),
        "public key": (private.public_key().to_bytes(), crypto.PublicKey.from_bytes),
        "private key": (private.to_bytes(), crypto.PrivateKey.from_bytes),
        "wrapped private key": (
            crypto.wrap_private_key(private, "test-password-not-secret", PARAMS),
            lambda b: crypto.unwrap_private_key(b, "test-password-not-secret"),
        ),
        "sealed case key": (
            crypto.seal_case_key(private.public_key(), KEY, case_id=1, kind=content),
            lambda b: crypto.open_case_key(private, b, case_id=1, kind=content),
        ),
        "reporter key": (
            crypto.wrap_case_key_for_reporter(KEY, code, case_id=1, kind=content, params=PARAMS),
            lambda b: crypto.open_case_key_for_reporter(b, code, case_id=1, kind=content),
        ),
        "stream": (
            stream.getvalue(),
            lambda b: b"".join(crypto.decrypt_stream(io.BytesIO(b), KEY, ("a", 1))),
        ),
        "signing key": (signing.to_bytes(), crypto.SigningKey.from_bytes),
        "verify key": (signing.verify_key().to_bytes(), crypto.VerifyKey.from_bytes),
        "signature": (
            crypto.sign(signing, b"m", purpose=crypto.SignaturePurpose.RECEIPT),
            lambda b: crypto.verify(
                signing.verify_key(), b"m", b, purpose=crypto.SignaturePurpose.RECEIPT
            ),
        ),
    }


BLOBS = _blobs()


@pytest.mark.parametrize("name", list(BLOBS))
def test_every_blob_is_versioned_and_opens(name: str) -> None:
    blob, opener = BLOBS[name]
    assert blob[:3] == b"WHS" and blob[4] == 1
    opener(blob)


@pytest.mark.parametrize("name", list(BLOBS))
@pytest.mark.parametrize("version", [0, 2, 255])
def test_an_unknown_version_is_an_open_error(name: str, version: int) -> None:
    blob, opener = BLOBS[name]
    with pytest.raises(crypto.OpenError, match="version"):
        opener(blob[:4] + bytes((version,)) + blob[5:])


@pytest.mark.parametrize("name", list(BLOBS))
def test_an_unknown_magic_is_an_open_error(name: str) -> None:
    blob, opener = BLOBS[name]
    with pytest.raises(crypto.OpenError):
        opener(b"WHT" + blob[3:])


@pytest.mark.parametrize("name", list(BLOBS))
@pytest.mark.parametrize("other", list(BLOBS))
def test_a_blob_given_to_the_wrong_opener_is_an_open_error(name: str, other: str) -> None:
    if name != other:
        with pytest.raises(crypto.OpenError):
            BLOBS[other][1](BLOBS[name][0])


def test_kind_bytes_are_distinct() -> None:
    assert len({blob[3] for blob, _ in BLOBS.values()}) == len(BLOBS)


def test_argon2_defaults_follow_rfc_9106_second_recommendation() -> None:
    params = crypto.Argon2Params()
    assert (params.time_cost, params.memory_kib, params.parallelism) == (3, 65536, 4)
    cheap = crypto.Argon2Params.for_tests()
    assert cheap.memory_kib < params.memory_kib and cheap.time_cost <= params.time_cost
    with pytest.raises(dataclasses.FrozenInstanceError):
        params.time_cost = 1  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"time_cost": 0}, ValueError),
        ({"parallelism": 0}, ValueError),
        ({"memory_kib": 7, "parallelism": 1}, ValueError),
        ({"memory_kib": 3 * 1024 * 1024}, ValueError),
        ({"time_cost": 1.5}, TypeError),
        ({"time_cost": True}, TypeError),
    ],
)
def test_argon2_params_are_validated(kwargs: dict[str, object], error: type) -> None:
    with pytest.raises(error):
        crypto.Argon2Params(**kwargs)  # type: ignore[arg-type]


def test_instance_secrets_are_fresh_256_bit_values() -> None:
    assert len(crypto.generate_pepper()) == 32 and len(crypto.generate_symmetric_key()) == 32
    assert crypto.generate_pepper() != crypto.generate_pepper()
    assert crypto.generate_symmetric_key() != crypto.generate_symmetric_key()


def test_importing_the_library_pulls_in_no_web_framework_or_database() -> None:
    probe = (
        "import sys, crypto; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "('flask', 'sqlalchemy', 'werkzeug', 'whistle')); print(bad)"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"


def _modules() -> list[types.ModuleType]:
    return [m for name, m in sorted(sys.modules.items()) if name.split(".")[0] == "crypto"]


def test_no_module_holds_mutable_state() -> None:
    mutable = (list, dict, set, bytearray)
    found = [
        f"{module.__name__}.{name}"
        for module in _modules()
        for name, value in vars(module).items()
        if isinstance(value, mutable) and not name.startswith("__")
    ]
    assert found == []


def test_everything_public_has_a_docstring() -> None:
    missing = []
    for name in crypto.__all__:
        obj = getattr(crypto, name)
        if (inspect.isfunction(obj) or inspect.isclass(obj)) and not inspect.getdoc(obj):
            missing.append(name)
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if attr.startswith("_") or not callable(getattr(obj, attr, None)):
                    continue
                if isinstance(member, classmethod | staticmethod):
                    member = member.__func__
                if inspect.isfunction(member) and not inspect.getdoc(member):
                    missing.append(f"{name}.{attr}")
    assert missing == []
