"""Write the known-answer vectors of Whistle's own formats in tests/app_vectors/. Run by hand:

    python tests/app_vectors/make_app_vectors.py     # from the checkout's root

The formats: receipt statements (format 1 and 2: canonical bytes, commitment input and
commitment, signature, proof file), the case-file header (format 1 and 2) and manifest,
counsel's key file (version 1 and 2), and the contexts every ciphertext of a case is bound to
with the record keys derived for records of format 2. Keys come from the labelled seeds of
tests/crypto/make_vectors.py (no private key is committed); the wrapped counsel key is the
committed vector of tests/crypto/vectors/keypairs.json. Everything here is deterministic, so a
re-run rewrites the files identically unless a format changed: then add new vectors next to
the old ones (a new format version) instead of overwriting them, so old files keep opening.

These live outside tests/crypto because they import whistle, which the crypto library's own
suite must not.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import sys
from datetime import date
from pathlib import Path
from types import SimpleNamespace
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from crypto import SignaturePurpose, derive_record_key, sign  # noqa: E402
from whistle.counsel import bundle_format  # noqa: E402
from whistle.reporting import receipts  # noqa: E402


def _crypto_generator() -> Any:
    """tests/crypto/make_vectors.py by path, for its labelled-seed helpers."""
    path = ROOT / "tests" / "crypto" / "make_vectors.py"
    spec = importlib.util.spec_from_file_location("whistle_crypto_make_vectors", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


crypto_vectors = _crypto_generator()
seed = crypto_vectors.seed
signing_key_for = crypto_vectors.signing_key_for
SIGNING_LABEL = "app/organisation-signing"
# Fixed texts of the proof file; the real ones are translated prose, not part of the format.
ABOUT = "Fake explanation of the proof file."
WARNING = "Fake warning: the report is in clear text."

REPORTS: list[dict[str, Any]] = [
    {
        "relation": "employee",
        "what": "Fake report: pallets leave the warehouse at night.",
        "when_where": "Fake: the warehouse, since January",
        "who": "Fake Person Doe",
        "how_known": "Fake: I saw it myself",
    },
    {
        "relation": None,
        "what": "Æblegrød på fredag – fake, with a line break\nand an emoji 🍎",  # noqa: RUF001 - non-ASCII on purpose
        "when_where": "",
        "who": "",
        "how_known": "",
    },
]


def receipt_vectors() -> dict[str, Any]:
    key = signing_key_for(SIGNING_LABEL)
    format_1 = []
    for organisation, reference, day in (
        ("testfirma", "2026-0001", "2026-03-02"),
        ("acme-group", "2025-0042", "2025-11-30"),
    ):
        statement = receipts.ReceiptStatement(organisation, reference, day)
        format_1.append(
            {
                "organisation": organisation,
                "reference": reference,
                "received_on": day,
                "canonical": statement.canonical().decode(),
                "signature": receipts.sign_receipt(key, statement),
            }
        )
    format_2 = []
    for number, report in enumerate(REPORTS, start=1):
        label = f"app/receipt/{number}/salt"
        salt = seed(label, receipts.SALT_SIZE)
        reference = f"2026-{number:04d}"
        statement = receipts.statement_for(
            "testfirma",
            reference,
            date(2026, 3, number),
            {**report, receipts.SALT_FIELD: salt.hex(), "excluded_handlers": [7], "v": 1},
        )
        proof = receipts.ReportProof(
            salt, dict(report), "testfirma", reference, statement.received_on
        )
        format_2.append(
            {
                "organisation": "testfirma",
                "reference": reference,
                "received_on": statement.received_on,
                "salt_label": label,
                "salt": salt.hex(),
                "report": report,
                "commitment_input": receipts.commitment_input(salt, report).hex(),
                "commitment": receipts.commitment(salt, report).hex(),
                "canonical": statement.canonical().decode(),
                "signature": receipts.sign_receipt(key, statement),
                "proof_file": proof.to_json(about=ABOUT, warning=WARNING).decode(),
            }
        )
    return {
        "signing_key_label": SIGNING_LABEL,
        "verify_key": key.verify_key().to_bytes().hex(),
        "fingerprint": key.verify_key().fingerprint(),
        "format_1": format_1,
        "format_2": format_2,
    }


EXPORT_ID = "3f0c9a1e-5b7d-4c2a-9e8f-0a1b2c3d4e5f"


def bundle_vectors() -> dict[str, Any]:
    key = signing_key_for(SIGNING_LABEL)
    # The header carries the sealed bundle key as opaque bytes; a labelled stand-in of an
    # HPKE seal's size keeps this vector deterministic.
    sealed = seed("app/bundle/sealed-key", 1157)
    signed = bundle_format.signed_header_part(EXPORT_ID, "testfirma", sealed, key.verify_key())
    header_2 = bundle_format.header(EXPORT_ID, "testfirma", sealed, key)
    header_1 = (
        bundle_format.MAGIC_V1
        + bundle_format.field(EXPORT_ID.encode())
        + (bundle_format.field(sealed))
    )
    parts = [
        {"path": "case.json", "sha256": seed("app/bundle/case.json", 32).hex(), "size": 2345},
        {"path": "case.pdf", "sha256": seed("app/bundle/case.pdf", 32).hex(), "size": 45678},
        {"path": "files/001-lagerliste.txt", "sha256": seed("app/bundle/f", 32).hex(), "size": 9},
    ]
    inputs = {
        "export_id": EXPORT_ID,
        "organisation": "testfirma",
        "case": "2026-0042",
        "exported_on": "2026-11-23",
        "includes_notes": True,
        "includes_identity": False,
        "parts": parts,
    }
    manifest = bundle_format.manifest_bytes(**inputs, verify_key=key.verify_key())
    return {
        "signing_key_label": SIGNING_LABEL,
        "verify_key": key.verify_key().to_bytes().hex(),
        "sealed_key_label": "app/bundle/sealed-key",
        "header_v2": {
            "export_id": EXPORT_ID,
            "organisation": "testfirma",
            "signed_part": signed.hex(),
            "header": header_2.hex(),
        },
        "header_v1": {"export_id": EXPORT_ID, "header": header_1.hex()},
        "manifest": {
            "inputs": inputs,
            "manifest": manifest.decode(),
            "signature": sign(key, manifest, purpose=SignaturePurpose.EXPORT_MANIFEST).hex(),
        },
    }


def key_file_vectors() -> dict[str, Any]:
    keypairs = json.loads((ROOT / "tests" / "crypto" / "vectors" / "keypairs.json").read_text())
    handler = next(v for v in keypairs if v["label"] == "keypairs/handler-a")
    wrapped = bytes.fromhex(handler["wrapped"]["blob"])
    key = signing_key_for(SIGNING_LABEL)
    v1 = f"{bundle_format.KEY_FILE_HEADER_V1}\n{base64.b64encode(wrapped).decode()}\n"
    return {
        "wrapped_from": "tests/crypto/vectors/keypairs.json keypairs/handler-a",
        "password": handler["wrapped"]["password"],
        "public_key": handler["public_key"],
        "v1": v1,
        "v2": {
            "organisation": "testfirma",
            "verify_key": key.verify_key().to_bytes().hex(),
            "text": bundle_format.key_file_text(wrapped, "testfirma", key.verify_key()),
        },
    }


def _record(uid: str, **columns: Any) -> Any:
    """The clear columns of a record that its context binds (a stand-in for the model row)."""
    defaults: dict[str, Any] = {
        "author": "",
        "kind": "",
        "sent_on": date(2026, 3, 2),
        "created_on": date(2026, 3, 2),
        "author_user_id": None,
        "format": 1,
    }
    return SimpleNamespace(uid=uid, **(defaults | columns))


CASE_UID = "3f0c9a1e-5b7d-4c2a-9e8f-0a1b2c3d4e5f"
ITEM_UID = "0b7e2a55-1c3d-4e5f-8a9b-0c1d2e3f4a5b"


def context_vectors() -> dict[str, Any]:
    """Every context a case's ciphertexts are bound to (whistle/core/contexts.py and the stored
    rows of whistle/casefile/access.py), encoded as the library authenticates them, and the record
    key derived from a case key and an item key (crypto.derive_record_key)."""
    from crypto._wire import encode_context
    from whistle.core import contexts

    message_v1 = _record(ITEM_UID, author="reporter", kind="message", format=1)
    message_v2 = _record(ITEM_UID, author="handler", kind="final_outcome", format=2)
    note_v1 = _record(ITEM_UID, kind="note", author_user_id=7, format=1)
    note_v2 = _record(ITEM_UID, kind="closure", author_user_id=7, format=2)
    named = {
        "report": contexts.report_context(CASE_UID),
        "identity": contexts.identity_context(CASE_UID),
        "nudge": contexts.nudge_context(CASE_UID),
        "message format 1": contexts.message_context(CASE_UID, message_v1),
        "message format 2": contexts.message_context(CASE_UID, message_v2),
        "note format 1": contexts.note_context(CASE_UID, note_v1),
        "note format 2": contexts.note_context(CASE_UID, note_v2),
        "file format 1": contexts.attachment_context(CASE_UID, "ab" * 16),
        "file name format 1": contexts.attachment_name_context(CASE_UID, "ab" * 16),
        "file format 2": contexts.attachment_context(CASE_UID, "ab" * 16, 2, "reporter", "report"),
        "file name format 2": contexts.attachment_name_context(
            CASE_UID, "ab" * 16, 2, "handler", ITEM_UID
        ),
        "person concerned": contexts.person_context(CASE_UID, ITEM_UID),
        "exclusion": contexts.exclusion_context(CASE_UID, ITEM_UID),
        "sealed key row": contexts.case_key_row_context(CASE_UID),
        "reporter key row": contexts.reporter_key_row_context(CASE_UID),
    }
    case_key, item_key = seed("app/record/case-key", 32), seed("app/record/item-key", 32)
    derived = [
        {
            "context": list(context),
            "record_key": derive_record_key(case_key, item_key, context=context).hex(),
        }
        for context in (
            named["message format 2"],
            named["note format 2"],
            ("file", CASE_UID, "ab" * 16),
        )
    ]
    return {
        "contexts": [
            {"name": name, "parts": list(parts), "encoded": encode_context(parts).hex()}
            for name, parts in named.items()
        ],
        "record_keys": {
            "case_key_label": "app/record/case-key",
            "item_key_label": "app/record/item-key",
            "derived": derived,
        },
    }


def main() -> None:
    for name, data in (
        ("receipts", receipt_vectors()),
        ("bundle", bundle_vectors()),
        ("key_files", key_file_vectors()),
        ("contexts", context_vectors()),
    ):
        path = HERE / f"{name}.json"
        path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
        print(f"wrote {path}", file=sys.stderr)


if __name__ == "__main__":
    main()
