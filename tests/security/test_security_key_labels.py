"""Every key derived from another, and every hash of one purpose, carries a label of its own.

A label is a constant of the code: the ``info`` of an HKDF, the message of an HMAC that
derives a key (``hmac.new(instance_key, b"WHS throttle keys v1", ...)``), the prefix of a hash
(``b"WHS report commitment v1\\x00" + ...``), the ``salt`` of an itsdangerous signer. Two uses
of one label would make one key or one hash stand for the other (a throttle's stored key for
the known-browser cookie's account hash, say). Labels follow the house pattern: bytes that
begin ``WHS `` (or, in older code, ``whistle``) and signer salts; the check finds each in
whistle/ and crypto/ and fails on any found twice.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LABEL = re.compile(rb"^(WHS |whistle)")


def _label_of(node: ast.AST) -> bytes | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, bytes) and LABEL.match(node.value):
        return node.value.rstrip(b"\x00")
    return None


def _module_constants(tree: ast.Module) -> dict[str, ast.expr]:
    """NAME -> value of the module's plain assignments (``_SALT = "..."``)."""
    return {
        target.id: node.value
        for node in tree.body
        if isinstance(node, ast.Assign)
        for target in node.targets
        if isinstance(target, ast.Name)
    }


def labels(folders: Iterable[Path], root: Path) -> dict[bytes, list[str]]:
    """Each label -> the places it is written (file:line)."""
    found: dict[bytes, list[str]] = {}
    for folder in folders:
        for path in sorted(folder.rglob("*.py")):
            where = path.relative_to(root).as_posix()
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=where)
            constants = _module_constants(tree)
            for node in ast.walk(tree):
                label = _label_of(node)
                if isinstance(node, ast.keyword) and node.arg == "salt":
                    value = node.value
                    if isinstance(value, ast.Name):
                        value = constants.get(value.id, value)
                    if isinstance(value, ast.Constant) and isinstance(value.value, str):
                        label = b"salt " + value.value.encode("utf-8")
                if label is not None:
                    found.setdefault(label, []).append(f"{where}:{node.lineno}")
    return found


def shared(found: dict[bytes, list[str]]) -> list[str]:
    return sorted(
        f"{label!r}: {', '.join(sorted(places))}"
        for label, places in found.items()
        if len(places) > 1
    )


def test_no_two_derivations_share_a_label() -> None:
    assert shared(labels([ROOT / "whistle", ROOT / "crypto"], ROOT)) == []


def test_the_known_browser_cookie_and_the_throttles_have_labels_of_their_own() -> None:
    """The cookie's key is derived under its own label (whistle/staff/views/known_device.py),
    not the throttles' key used as it is."""
    found = labels([ROOT / "whistle"], ROOT)
    where = {label: places[0].split(":")[0] for label, places in found.items()}
    assert where[b"WHS known browser v1"] == "whistle/staff/views/known_device.py"
    assert where[b"WHS throttle keys v1"] == "whistle/core/throttle.py"


def test_the_check_finds_a_label_used_twice(tmp_path: Path) -> None:
    code = tmp_path / "whistle"
    code.mkdir()
    (code / "throttle.py").write_text('LABEL = b"WHS throttle keys v1"\n')
    (code / "cookie.py").write_text(
        "import hmac\n"
        "def key(instance_key):\n"
        '    return hmac.new(instance_key, b"WHS throttle keys v1", "sha256").digest()\n'
        'SIGNER = dict(salt="whistle.cookie")\n'
        'MAGIC = b"WHSW"\n'
    )
    (code / "other.py").write_text('_SALT = "whistle.cookie"\nSIGNER = dict(salt=_SALT)\n')
    assert shared(labels([code], tmp_path)) == [
        "b'WHS throttle keys v1': whistle/cookie.py:3, whistle/throttle.py:1",
        "b'salt whistle.cookie': whistle/cookie.py:4, whistle/other.py:2",
    ]
