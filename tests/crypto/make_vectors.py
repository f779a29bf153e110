"""Write the known-answer vectors in tests/crypto/vectors/. Run once, by hand:

    python tests/crypto/make_vectors.py     # with crypto importable (make install, or PYTHONPATH=.)

Re-running rewrites the deterministic vectors identically but makes new HPKE seals (their
randomness is drawn inside the library); only do it when a format version changes, and keep
the old vectors next to the new ones so old blobs are still tested.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import crypto
from crypto import case_codes, fields, kdf, keypairs
from crypto.streams import StreamEncryptor

VECTORS = Path(__file__).with_name("vectors")
TEST_PARAMS = crypto.Argon2Params.for_tests()
PASSWORD = "test-password-not-secret"


def seed(label: str, size: int) -> bytes:
    """Deterministic test-only bytes for ``label`` (SHAKE-256 of a fixed prefix)."""
    return hashlib.shake_256(b"whistle test vector\x00" + label.encode()).digest(size)


def private_key_for(label: str) -> crypto.PrivateKey:
    """A key pair derived from a labelled seed: never a real key, never committed."""
    return crypto.PrivateKey._from_raw(seed(label, 96))


def signing_key_for(label: str) -> crypto.SigningKey:
    return crypto.SigningKey._from_seed(seed(label, 32))


def params_dict(params: crypto.Argon2Params) -> dict[str, int]:
    return {
        "time_cost": params.time_cost,
        "memory_kib": params.memory_kib,
        "parallelism": params.parallelism,
    }


def argon2id() -> list[dict[str, Any]]:
    out = []
    for name, secret, params in (
        ("test-params", PASSWORD.encode(), TEST_PARAMS),
        ("case-code", b"7QKM2XR9CD4TWB8N", crypto.Argon2Params(time_cost=2, memory_kib=1024)),
        ("production-defaults", PASSWORD.encode(), crypto.Argon2Params()),
    ):
        salt = seed(f"argon2id/{name}/salt", 16)
        out.append(
            {
                "name": name,
                "secret": secret.hex(),
                "salt": salt.hex(),
                "params": params_dict(params),
                "key": kdf.derive_key(secret, salt, params).hex(),
            }
        )
    return out


def case_codes_vectors() -> dict[str, Any]:
    normalise = [
        ["7QKM-2XR9-CD4T-WB8N", "7QKM2XR9CD4TWB8N"],
        ["7qkm 2xr9 cd4t wb8n", "7QKM2XR9CD4TWB8N"],
        ["  7QKM2XR9CD4TWB8N  ", "7QKM2XR9CD4TWB8N"],
        ["OIL0-1234-5678-9ABC", "0110123456789ABC"],
        ["oilo-i234-5678-9abc", "0110123456789ABC"],
    ]
    pepper = seed("case-codes/pepper", 32)
    tags = [
        {
            "pepper": pepper.hex(),
            "code": code,
            "tag": crypto.case_code_lookup_tag(pepper, code, scope=1).hex(),
        }
        for code in ("7QKM-2XR9-CD4T-WB8N", "0000-0000-0000-0000", "ZZZZ-ZZZZ-ZZZZ-ZZZZ")
    ]
    reporter = []
    for case_id in (42, "3f0c9a1e-5b7d-4c2a-9e8f-0a1b2c3d4e5f"):
        salt = seed(f"reporter/{case_id}/salt", 16)
        nonce = seed(f"reporter/{case_id}/nonce", 12)
        code = "7QKM-2XR9-CD4T-WB8N"
        label = f"reporter/{case_id}/content-key"
        blob = case_codes._wrap_for_reporter(
            seed(label, 32),
            code,
            case_codes.case_key_context(case_id, crypto.KeyKind.CONTENT),
            TEST_PARAMS,
            salt,
            nonce,
        )
        reporter.append(
            {
                "case_key_label": label,
                "code": code,
                "case_id": case_id,
                "kind": "content",
                "params": params_dict(TEST_PARAMS),
                "salt": salt.hex(),
                "nonce": nonce.hex(),
                "blob": blob.hex(),
            }
        )
    return {"normalise": normalise, "lookup_tags": tags, "reporter_keys": reporter}


def case_codes_v2_vectors() -> dict[str, Any]:
    """Format 2 codes (a lookup part and a secret part), the reporter's seed wrapped under the
    code, and the key pair a seed determines."""
    pepper = seed("case-codes-v2/pepper", 32)
    tags = [
        {
            "pepper": pepper.hex(),
            "code": code,
            "scope": scope,
            "tag": crypto.case_code_lookup_tag(pepper, code, scope=scope).hex(),
        }
        for code, scope in (
            ("7QKM-2XR9-CD4T-WB8N-5GHA", 1),
            ("7QKM-0000-0000-0000-0000", 1),
            ("7QKM-2XR9-CD4T-WB8N-5GHA", 2),
            ("ZZZZ-ZZZZ-ZZZZ-ZZZZ-ZZZZ", "acme"),
        )
    ]
    seeds = []
    for case_id in (42, "3f0c9a1e-5b7d-4c2a-9e8f-0a1b2c3d4e5f"):
        salt = seed(f"reporter-seed/{case_id}/salt", 16)
        nonce = seed(f"reporter-seed/{case_id}/nonce", 12)
        code = "7QKM-2XR9-CD4T-WB8N-5GHA"
        label = f"reporter-seed/{case_id}/seed"
        blob = case_codes._wrap_for_reporter(
            seed(label, 32),
            code,
            case_codes._reporter_seed_context(case_id),
            TEST_PARAMS,
            salt,
            nonce,
        )
        seeds.append(
            {
                "seed_label": label,
                "code": code,
                "case_id": case_id,
                "params": params_dict(TEST_PARAMS),
                "salt": salt.hex(),
                "nonce": nonce.hex(),
                "blob": blob.hex(),
            }
        )
    pairs = [
        {
            "seed_label": label,
            "public_key_sha256": hashlib.sha256(
                crypto.PrivateKey.from_seed(seed(label, 32)).public_key().to_bytes()
            ).hexdigest(),
            "private_key_sha256": hashlib.sha256(
                crypto.PrivateKey.from_seed(seed(label, 32)).to_bytes()
            ).hexdigest(),
        }
        for label in ("key-pair-from-seed/a", "key-pair-from-seed/b")
    ]
    return {"lookup_tags": tags, "reporter_seeds": seeds, "key_pairs_from_seed": pairs}


def fields_vectors() -> list[dict[str, Any]]:
    out = []
    for name, context, plaintext in (
        ("empty", ["report", 1], b""),
        ("short", ["message", 7, 12], b"yes"),
        (
            "utf8",
            ["note", "3f0c9a1e-5b7d-4c2a-9e8f-0a1b2c3d4e5f", 1],
            "Æblegrød på fredag".encode(),
        ),
        ("long", ["report", 99], seed("fields/long", 1000)),
    ):
        key = seed(f"fields/{name}/key", 32)
        nonce = seed(f"fields/{name}/nonce", 12)
        blob = fields._encrypt_field(key, plaintext, tuple(context), nonce)
        out.append(
            {
                "name": name,
                "key_label": f"fields/{name}/key",
                "context": context,
                "plaintext": plaintext.hex(),
                "nonce": nonce.hex(),
                "blob": blob.hex(),
            }
        )
    return out


def keypairs_vectors() -> list[dict[str, Any]]:
    out = []
    for label in ("keypairs/handler-a", "keypairs/recovery"):
        private = private_key_for(label)
        salt = seed(f"{label}/salt", 16)
        nonce = seed(f"{label}/nonce", 12)
        blob = keypairs._wrap(private, PASSWORD, TEST_PARAMS, salt, nonce)
        out.append(
            {
                "label": label,
                "public_key": private.public_key().to_bytes().hex(),
                "fingerprint": private.public_key().fingerprint(),
                "private_key_sha256": hashlib.sha256(private.to_bytes()).hexdigest(),
                "wrapped": {
                    "password": PASSWORD,
                    "params": params_dict(TEST_PARAMS),
                    "salt": salt.hex(),
                    "nonce": nonce.hex(),
                    "blob": blob.hex(),
                },
            }
        )
    return out


def sealed_vectors() -> list[dict[str, Any]]:
    out = []
    recipient = "keypairs/handler-a"
    public = private_key_for(recipient).public_key()
    for case_id, kind in ((42, "content"), (42, "notes"), ("uuid-like-case-id", "identity")):
        label = f"sealed/{case_id}/{kind}"
        sealed = crypto.seal_case_key(
            public, seed(label, 32), case_id=case_id, kind=crypto.KeyKind(kind)
        )
        out.append(
            {
                "name": f"{case_id}-{kind}",
                "recipient_label": recipient,
                "case_key_label": label,
                "case_id": case_id,
                "kind": kind,
                "sealed": sealed.hex(),
            }
        )
    return out


def streams_vectors() -> list[dict[str, Any]]:
    out = []
    for name, segment_size, size in (
        ("empty", 64, 0),
        ("one-partial-segment", 64, 10),
        ("exact-segments", 64, 128),
        ("several-segments", 64, 200),
        ("default-segment", crypto.DEFAULT_SEGMENT_SIZE, 100),
    ):
        label = f"streams/{name}"
        context = ["attachment", 42, name]
        encryptor = StreamEncryptor._with_randomness(
            seed(f"{label}/case-key", 32),
            tuple(context),
            segment_size,
            file_key=seed(f"{label}/file-key", 32),
            prefix=seed(f"{label}/prefix", 7),
            wrap_nonce=seed(f"{label}/wrap-nonce", 12),
        )
        plaintext = seed(f"{label}/plaintext", size)
        ciphertext = encryptor.update(plaintext) + encryptor.finalize()
        out.append(
            {
                "name": name,
                "case_key_label": f"{label}/case-key",
                "context": context,
                "segment_size": segment_size,
                "plaintext_label": f"{label}/plaintext",
                "plaintext_size": size,
                "file_key": seed(f"{label}/file-key", 32).hex(),
                "prefix": seed(f"{label}/prefix", 7).hex(),
                "wrap_nonce": seed(f"{label}/wrap-nonce", 12).hex(),
                "ciphertext": ciphertext.hex(),
            }
        )
    return out


def signatures_vectors() -> list[dict[str, Any]]:
    key = signing_key_for("signing/org")
    message = b'{"date":"2026-03-02","org":"acme","reference":"2026-0001"}'
    return [
        {
            "label": "signing/org",
            "purpose": purpose.value,
            "message": message.hex(),
            "verify_key": key.verify_key().to_bytes().hex(),
            "signature": crypto.sign(key, message, purpose=purpose).hex(),
        }
        for purpose in crypto.SignaturePurpose
    ]


def recovery_vector() -> dict[str, Any]:
    label = "keypairs/recovery"
    text = crypto.export_recovery_key(private_key_for(label))
    return {
        "label": label,
        "text_sha256": hashlib.sha256(text.encode()).hexdigest(),
        "first_lines": text.splitlines()[:2],
    }


def main(only: list[str]) -> None:
    """Write every vector file, or only those named (``python make_vectors.py case_codes_v2``):
    a new format gets a file of its own, and the files of older formats stay as they are."""
    VECTORS.mkdir(exist_ok=True)
    for name, make in (
        ("argon2id", argon2id),
        ("case_codes", case_codes_vectors),
        ("case_codes_v2", case_codes_v2_vectors),
        ("fields", fields_vectors),
        ("keypairs", keypairs_vectors),
        ("sealed_case_keys", sealed_vectors),
        ("streams", streams_vectors),
        ("signatures", signatures_vectors),
        ("recovery", recovery_vector),
    ):
        if only and name not in only:
            continue
        path = VECTORS / f"{name}.json"
        data: Any = make()
        path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
        print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
