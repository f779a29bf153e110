"""The organisation recovery key printed for a safe: typed back in years later, it opens
every case key sealed to it, and a typo is caught (and located) rather than producing a
wrong key."""

from __future__ import annotations

import functools
import hashlib
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import crypto

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


@functools.cache
def recovery_key() -> crypto.PrivateKey:
    # A fixed (test-only) key, so that which typos the 5-bit line checks miss is the same
    # on every run.
    return crypto.PrivateKey._from_raw(hashlib.sha512(b"recovery test key").digest() + bytes(32))


@functools.cache
def printed() -> str:
    return crypto.export_recovery_key(recovery_key())


def data_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if re.match(r"\d\d  ", line)]


def test_printed_key_opens_case_keys_after_import() -> None:
    sealed = crypto.seal_case_key(
        recovery_key().public_key(), bytes(range(32)), case_id=9, kind=crypto.KeyKind.IDENTITY
    )
    restored = crypto.import_recovery_key(printed())
    assert restored.public_key() == recovery_key().public_key()
    assert crypto.open_case_key(restored, sealed, case_id=9, kind=crypto.KeyKind.IDENTITY) == bytes(
        range(32)
    )


def test_printed_layout() -> None:
    lines = printed().splitlines()
    assert lines[0] == "WHISTLE ORGANISATION RECOVERY KEY (format 1)"
    assert lines[1] == f"Public key fingerprint: {recovery_key().public_key().fingerprint()}"
    rows = data_lines(printed())
    assert [row[:2] for row in rows] == [f"{n:02d}" for n in range(1, 10)]
    for row in rows[:-1]:
        assert re.fullmatch(r"\d\d  ([0-9A-Z]{4} ){4}[0-9A-Z]{4}  [0-9A-Z]", row)
    assert crypto.export_recovery_key(recovery_key()) == printed()


def test_typing_it_back_carelessly_still_works() -> None:
    sloppy = ["notes to self", ""]
    for row in data_lines(printed()):
        number, symbols = int(row[:2]), row[4:]
        mangled = symbols.lower().replace("0", "o").replace("1", "l").replace(" ", "-")
        sloppy.append(f"{number}. {mangled}   ")
    restored = crypto.import_recovery_key("\n".join(sloppy))
    assert restored.public_key() == recovery_key().public_key()


@given(data=st.data())
@settings(max_examples=100, deadline=None)
def test_any_single_typo_is_caught_never_a_wrong_key(data: st.DataObject) -> None:
    rows = data_lines(printed())
    row_index = data.draw(st.integers(min_value=0, max_value=len(rows) - 1))
    row = rows[row_index]
    positions = [i for i, c in enumerate(row) if i >= 4 and c != " "]
    position = data.draw(st.sampled_from(positions))
    replacement = data.draw(st.sampled_from([c for c in ALPHABET if c != row[position]]))
    rows[row_index] = row[:position] + replacement + row[position + 1 :]
    with pytest.raises(crypto.InvalidRecoveryKey):
        crypto.import_recovery_key("\n".join(rows))


def test_a_typo_is_located_on_its_line() -> None:
    rows = data_lines(printed())
    located = 0
    for index, row in enumerate(rows):
        position = 6
        replacement = "A" if row[position] != "A" else "B"
        typo = rows.copy()
        typo[index] = row[:position] + replacement + row[position + 1 :]
        with pytest.raises(crypto.InvalidRecoveryKey) as caught:
            crypto.import_recovery_key("\n".join(typo))
        located += caught.value.line == index + 1
    assert located >= len(rows) - 1  # each line check misses one typo in 32


def test_swapped_adjacent_characters_are_caught() -> None:
    rows = data_lines(printed())
    for index, row in enumerate(rows):
        if row[4] != row[5]:
            swapped = rows.copy()
            swapped[index] = row[:4] + row[5] + row[4] + row[6:]
            with pytest.raises(crypto.InvalidRecoveryKey):
                crypto.import_recovery_key("\n".join(swapped))


def test_missing_swapped_or_repeated_lines_are_reported() -> None:
    rows = data_lines(printed())
    with pytest.raises(crypto.InvalidRecoveryKey) as caught:
        crypto.import_recovery_key("\n".join(rows[:3] + rows[4:]))
    assert caught.value.line == 4
    swapped = rows.copy()
    swapped[2], swapped[3] = rows[3][:2] + rows[2][2:], rows[2][:2] + rows[3][2:]
    with pytest.raises(crypto.InvalidRecoveryKey):
        crypto.import_recovery_key("\n".join(swapped))
    with pytest.raises(crypto.InvalidRecoveryKey):
        crypto.import_recovery_key("\n".join([*rows, rows[0]]))
    with pytest.raises(crypto.InvalidRecoveryKey):
        crypto.import_recovery_key("")


def test_characters_outside_the_alphabet_are_reported_without_echoing_the_key() -> None:
    rows = data_lines(printed())
    rows[1] = rows[1][:5] + "!" + rows[1][6:]
    with pytest.raises(crypto.InvalidRecoveryKey) as caught:
        crypto.import_recovery_key("\n".join(rows))
    assert caught.value.line == 2
    assert rows[1][4:] not in str(caught.value)
