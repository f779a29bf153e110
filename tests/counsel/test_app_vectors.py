"""Known-answer vectors of Whistle's own formats (issue 14 item 12): receipt statements
(format 1 and 2, with the commitment and the proof file), the case-file header (format 1 and
2) and manifest, and counsel's key file (version 1 and 2).

The vectors in tests/app_vectors/ were written once by make_app_vectors.py from labelled seeds
(no private key is committed). The code must reproduce them byte for byte, and read them back:
a failure means receipts, case files or key files already in people's hands would no longer
verify or open, or a format changed without a new version.
"""

from __future__ import annotations

import ast
import base64
import importlib.util
import io
import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from crypto import SignaturePurpose, VerifyKey, unwrap_private_key, verify
from whistle.counsel import bundle_format, bundle_reader
from whistle.reporting import receipts

TESTS = Path(__file__).resolve().parents[1]
VECTORS = TESTS / "app_vectors"


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location(
        "whistle_app_vectors", VECTORS / "make_app_vectors.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


generator = _generator()


def load(name: str) -> Any:
    return json.loads((VECTORS / f"{name}.json").read_text(encoding="utf-8"))


def receipt_lines(canonical: str, signature: str) -> str:
    return f"Statement: {canonical}\nSignature: {signature}\n"


RECEIPTS = load("receipts")
SIGNING = generator.signing_key_for(RECEIPTS["signing_key_label"])


def test_the_vectors_key_is_the_labelled_one() -> None:
    assert SIGNING.verify_key().to_bytes().hex() == RECEIPTS["verify_key"]
    assert SIGNING.verify_key().fingerprint() == RECEIPTS["fingerprint"]


@pytest.mark.parametrize("vector", RECEIPTS["format_1"], ids=lambda v: v["reference"])
def test_receipt_format_1(vector: dict[str, Any]) -> None:
    statement = receipts.ReceiptStatement(
        vector["organisation"], vector["reference"], vector["received_on"]
    )
    assert statement.canonical().decode() == vector["canonical"]
    assert receipts.sign_receipt(SIGNING, statement) == vector["signature"]
    key = VerifyKey.from_bytes(bytes.fromhex(RECEIPTS["verify_key"]))
    read = receipts.verify_receipt(receipt_lines(vector["canonical"], vector["signature"]), key)
    assert read == statement and read.format == 1


@pytest.mark.parametrize("vector", RECEIPTS["format_2"], ids=lambda v: v["reference"])
def test_receipt_format_2_with_its_commitment_and_proof(vector: dict[str, Any]) -> None:
    salt = bytes.fromhex(vector["salt"])
    assert salt == generator.seed(vector["salt_label"], receipts.SALT_SIZE)
    report = vector["report"]
    assert receipts.commitment_input(salt, report).hex() == vector["commitment_input"]
    assert receipts.commitment(salt, report).hex() == vector["commitment"]
    stored = {**report, receipts.SALT_FIELD: salt.hex(), "excluded_handlers": [7], "v": 1}
    statement = receipts.statement_for(
        vector["organisation"],
        vector["reference"],
        date.fromisoformat(vector["received_on"]),
        stored,
    )
    assert statement.canonical().decode() == vector["canonical"]
    assert receipts.sign_receipt(SIGNING, statement) == vector["signature"]
    proof = receipts.proof_for(statement, stored)
    assert proof is not None
    written = proof.to_json(about=generator.ABOUT, warning=generator.WARNING)
    assert written.decode() == vector["proof_file"]
    key = VerifyKey.from_bytes(bytes.fromhex(RECEIPTS["verify_key"]))
    checked = receipts.check_receipt(
        receipt_lines(vector["canonical"], vector["signature"]),
        [key],
        proof=vector["proof_file"].encode(),
    )
    assert checked.statement == statement and checked.statement.format == 2
    assert checked.proof is not None and checked.proof.status == "matches"


BUNDLE = load("bundle")


def test_bundle_header_format_2() -> None:
    vector = BUNDLE["header_v2"]
    sealed = generator.seed(BUNDLE["sealed_key_label"], 1157)
    signed = bundle_format.signed_header_part(
        vector["export_id"], vector["organisation"], sealed, SIGNING.verify_key()
    )
    assert signed.hex() == vector["signed_part"]
    made = bundle_format.header(vector["export_id"], vector["organisation"], sealed, SIGNING)
    assert made.hex() == vector["header"]
    read = bundle_reader.read_header(io.BytesIO(bytes.fromhex(vector["header"])))
    assert (read.version, read.export_id, read.organisation) == (
        2,
        vector["export_id"],
        vector["organisation"],
    )
    assert read.sealed_key == sealed and read.verify_key == SIGNING.verify_key()


def test_bundle_header_format_1_still_reads() -> None:
    vector = BUNDLE["header_v1"]
    read = bundle_reader.read_header(io.BytesIO(bytes.fromhex(vector["header"])))
    assert (read.version, read.export_id, read.organisation, read.verify_key) == (
        1,
        vector["export_id"],
        None,
        None,
    )
    assert read.sealed_key == generator.seed(BUNDLE["sealed_key_label"], 1157)


def test_bundle_manifest() -> None:
    vector = BUNDLE["manifest"]
    made = bundle_format.manifest_bytes(**vector["inputs"], verify_key=SIGNING.verify_key())
    assert made.decode() == vector["manifest"]
    key = VerifyKey.from_bytes(bytes.fromhex(BUNDLE["verify_key"]))
    verify(
        key,
        vector["manifest"].encode(),
        bytes.fromhex(vector["signature"]),
        purpose=SignaturePurpose.EXPORT_MANIFEST,
    )


KEY_FILES = load("key_files")


def test_counsel_key_file_version_1_still_reads() -> None:
    parsed = bundle_format.parse_key_file(KEY_FILES["v1"])
    assert (parsed.version, parsed.organisation, parsed.verify_key) == (1, None, None)
    private = unwrap_private_key(parsed.wrapped_private_key, KEY_FILES["password"])
    assert private.public_key().to_bytes().hex() == KEY_FILES["public_key"]


def test_counsel_key_file_version_2() -> None:
    vector = KEY_FILES["v2"]
    v1 = bundle_format.parse_key_file(KEY_FILES["v1"])
    verify_key = VerifyKey.from_bytes(bytes.fromhex(vector["verify_key"]))
    assert verify_key == SIGNING.verify_key()
    text = bundle_format.key_file_text(v1.wrapped_private_key, vector["organisation"], verify_key)
    assert text == vector["text"]
    parsed = bundle_format.parse_key_file(vector["text"])
    assert (parsed.version, parsed.organisation, parsed.verify_key) == (
        2,
        vector["organisation"],
        verify_key,
    )
    assert parsed.wrapped_private_key == v1.wrapped_private_key
    assert base64.b64encode(parsed.wrapped_private_key).decode() in vector["text"]


def test_the_crypto_librarys_own_suite_imports_nothing_of_whistle() -> None:
    """The app's vectors live here because tests/crypto must stay free of whistle."""
    for path in sorted((TESTS / "crypto").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            assert not [n for n in names if n.split(".")[0] == "whistle"], path


def test_every_context_a_case_ciphertext_is_bound_to_is_unchanged() -> None:
    """The contexts of reports, identities, messages and notes (format 1 and 2), files, persons
    concerned, exclusions and the stored key rows: a change would make every stored ciphertext
    fail to open, so it must come as a new format, never as an edit."""
    data = load("contexts")
    made = generator.context_vectors()
    assert [c["name"] for c in made["contexts"]] == [c["name"] for c in data["contexts"]]
    for stored, now in zip(data["contexts"], made["contexts"], strict=True):
        assert now["parts"] == stored["parts"], stored["name"]
        assert now["encoded"] == stored["encoded"], stored["name"]
    assert made["record_keys"] == data["record_keys"]


def test_a_record_key_is_derived_as_the_vector_says() -> None:
    """Record keys of format 2 (a case key and an item key) match the committed vectors, so a
    record written today opens with tomorrow's code."""
    from crypto import derive_record_key

    data = load("contexts")["record_keys"]
    case_key = generator.seed(data["case_key_label"], 32)
    item_key = generator.seed(data["item_key_label"], 32)
    for vector in data["derived"]:
        key = derive_record_key(case_key, item_key, context=tuple(vector["context"]))
        assert key.hex() == vector["record_key"]
