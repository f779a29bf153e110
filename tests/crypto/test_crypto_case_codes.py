"""Case codes: a lookup part and an 80-bit secret part the reporter can write down, read back
forgivingly, and that nothing stored can turn back into the code; codes of format 1 (16
symbols) still read."""

from __future__ import annotations

import functools
import re
import string
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import crypto

PARAMS = crypto.Argon2Params.for_tests()
PEPPER = bytes(range(32))
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE = "7QKM-2XR9-CD4T-WB8N"  # format 1
CODE2 = "7QKM-2XR9-CD4T-WB8N-5GHA"  # format 2
CONTENT = crypto.KeyKind.CONTENT
codes = st.text(alphabet=ALPHABET, min_size=16, max_size=16) | st.text(
    alphabet=ALPHABET, min_size=20, max_size=20
)


@functools.cache
def content_key() -> bytes:
    return crypto.CaseKeys.generate().content


@functools.cache
def reporter_blob() -> bytes:
    return crypto.wrap_case_key_for_reporter(
        content_key(), CODE, case_id=42, kind=CONTENT, params=PARAMS
    )


def test_a_new_code_has_a_lookup_group_and_80_secret_bits_in_five_groups() -> None:
    assert crypto.CASE_CODE_BITS == 80 == 16 * 5 and len(ALPHABET) == 32
    code = crypto.generate_case_code()
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){4}", code)
    assert not crypto.is_legacy_case_code(code)
    assert crypto.is_legacy_case_code(CODE)


def test_codes_use_the_whole_alphabet_in_every_position() -> None:
    samples = [crypto.normalise_case_code(crypto.generate_case_code()) for _ in range(2000)]
    assert len(set(samples)) == len(samples)
    for position in (0, 3, 7, 15, 19):
        counts = Counter(code[position] for code in samples)
        assert set(counts) == set(ALPHABET)
        assert max(counts.values()) < 2000 / 32 * 2.2  # no symbol dominates


@given(
    code=codes,
    lower=st.booleans(),
    separator=st.sampled_from(["", " ", "-", "  ", " - ", "\u2013"]),
)
@settings(deadline=None)
def test_typing_variants_read_back_as_the_same_code(code: str, lower: bool, separator: str) -> None:
    typed = separator.join(code[i : i + 4] for i in range(0, len(code), 4))
    typed = typed.replace("0", "O").replace("1", "l")
    if lower:
        typed = typed.lower()
    assert crypto.normalise_case_code(f" {typed} ") == code
    assert crypto.format_case_code(typed) == "-".join(
        code[i : i + 4] for i in range(0, len(code), 4)
    )


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "7QKM-2XR9-CD4T-WB8",
        "7QKM-2XR9-CD4T-WB8NN",
        "7QKM-2XR9-CD4T-WB8N-5GH",
        "7QKM-2XR9-CD4T-WB8N-5GHAA",
        "7QKM-2XR9-CD4T-WB8U",
        "7QKM-2XR9-CD4T-WB8!",
        "7QKM-2XR9-CD4T-WB8Ø",
    ],
)
def test_text_that_cannot_be_a_code_is_rejected_as_a_typo(typed: str) -> None:
    with pytest.raises(crypto.InvalidCaseCode) as caught:
        crypto.normalise_case_code(typed)
    assert isinstance(caught.value, ValueError)
    if typed:
        assert typed not in str(caught.value)
    with pytest.raises(crypto.InvalidCaseCode):
        crypto.case_code_lookup_tag(PEPPER, typed, scope=1)


def test_lookup_tag_finds_the_case_however_the_code_is_typed() -> None:
    for code, typed in ((CODE, "7qkm 2xr9 cd4t wb8n"), (CODE2, "7qkm2xr9cd4twb8n5gha")):
        tag = crypto.case_code_lookup_tag(PEPPER, code, scope=1)
        assert len(tag) == 32
        assert crypto.case_code_lookup_tag(PEPPER, typed, scope=1) == tag


def test_lookup_tag_depends_on_the_pepper_and_reveals_no_code() -> None:
    for code, other in ((CODE, "7QKM-2XR9-CD4T-WB8P"), (CODE2, "7QKP-2XR9-CD4T-WB8N-5GHA")):
        tag = crypto.case_code_lookup_tag(PEPPER, code, scope=1)
        assert crypto.case_code_lookup_tag(crypto.generate_pepper(), code, scope=1) != tag
        assert crypto.case_code_lookup_tag(PEPPER, other, scope=1) != tag
        assert b"7QKM" not in tag


def test_a_format_2_tag_covers_the_lookup_part_and_the_scope_only() -> None:
    """Someone holding the database and the pepper learns only the lookup part from a tag:
    every code with the same first group has the same tag, so testing a guess of the secret
    part needs the per-case Argon2id of the wrapped seed, not an HMAC."""
    tag = crypto.case_code_lookup_tag(PEPPER, CODE2, scope=1)
    assert crypto.case_code_lookup_tag(PEPPER, "7QKM-0000-0000-0000-0000", scope=1) == tag
    assert crypto.case_code_lookup_tag(PEPPER, "7QKM-ZZZZ-ZZZZ-ZZZZ-ZZZZ", scope=1) == tag
    assert crypto.case_code_lookup_tag(PEPPER, CODE2, scope=2) != tag
    assert crypto.case_code_lookup_tag(PEPPER, CODE2, scope="1") == tag  # 1 and "1": one scope


def test_a_format_1_tag_still_covers_the_whole_code() -> None:
    tag = crypto.case_code_lookup_tag(PEPPER, CODE, scope=1)
    assert crypto.case_code_lookup_tag(PEPPER, CODE, scope=2) == tag
    assert crypto.case_code_lookup_tag(PEPPER, "7QKM-2XR9-CD4T-WB80", scope=1) != tag


def test_pepper_must_be_long() -> None:
    with pytest.raises(ValueError):
        crypto.case_code_lookup_tag(b"short", CODE, scope=1)


@functools.cache
def seed_blob() -> bytes:
    return crypto.wrap_reporter_seed(bytes(range(32)), CODE2, case_id=42, params=PARAMS)


def test_the_reporter_opens_the_seed_of_their_key_pair_with_the_code() -> None:
    assert crypto.open_reporter_seed(seed_blob(), CODE2.lower(), case_id=42) == bytes(range(32))
    assert len(seed_blob()) == 95


def test_the_seed_opens_only_with_its_code_case_and_purpose() -> None:
    with pytest.raises(crypto.OpenError):
        crypto.open_reporter_seed(seed_blob(), "7QKM-2XR9-CD4T-WB8N-5GHB", case_id=42)
    with pytest.raises(crypto.OpenError):
        crypto.open_reporter_seed(seed_blob(), CODE2, case_id=43)
    # A seed is never taken for a case key, nor a case key for a seed.
    with pytest.raises(crypto.OpenError):
        crypto.open_case_key_for_reporter(seed_blob(), CODE2, case_id=42, kind=CONTENT)
    with pytest.raises(crypto.OpenError):
        crypto.open_reporter_seed(reporter_blob(), CODE, case_id=42)


def test_a_seed_determines_one_key_pair() -> None:
    first = crypto.PrivateKey.from_seed(bytes(range(32)))
    again = crypto.PrivateKey.from_seed(bytes(range(32)))
    other = crypto.PrivateKey.from_seed(bytes(range(1, 33)))
    assert first.public_key() == again.public_key()
    assert first.public_key() != other.public_key()
    sealed = crypto.seal_case_key(first.public_key(), content_key(), case_id=7, kind=CONTENT)
    assert crypto.open_case_key(again, sealed, case_id=7, kind=CONTENT) == content_key()
    with pytest.raises(ValueError):
        crypto.PrivateKey.from_seed(bytes(31))


def test_the_reporter_opens_the_content_key_with_the_code_as_typed() -> None:
    opened = crypto.open_case_key_for_reporter(
        reporter_blob(), "7qkm2xr9cd4twb8n", case_id=42, kind=CONTENT
    )
    assert opened == content_key()
    assert len(reporter_blob()) == 95


def test_nothing_stored_contains_the_code() -> None:
    symbols = crypto.normalise_case_code(CODE).encode()
    assert symbols not in reporter_blob() and symbols[:8] not in reporter_blob()


def test_a_wrong_code_does_not_open() -> None:
    with pytest.raises(crypto.OpenError) as caught:
        crypto.open_case_key_for_reporter(
            reporter_blob(), "7QKM-2XR9-CD4T-WB8P", case_id=42, kind=CONTENT
        )
    assert "7QKM" not in str(caught.value)


def test_a_malformed_code_is_a_typo_not_a_failed_guess() -> None:
    with pytest.raises(crypto.InvalidCaseCode):
        crypto.open_case_key_for_reporter(reporter_blob(), "7QKM", case_id=42, kind=CONTENT)


def test_the_wrapped_key_is_bound_to_its_case_and_kind() -> None:
    with pytest.raises(crypto.OpenError):
        crypto.open_case_key_for_reporter(reporter_blob(), CODE, case_id=43, kind=CONTENT)
    for kind in (crypto.KeyKind.NOTES, crypto.KeyKind.IDENTITY):
        with pytest.raises(crypto.OpenError):
            crypto.open_case_key_for_reporter(reporter_blob(), CODE, case_id=42, kind=kind)


def test_the_same_key_wrapped_twice_uses_a_fresh_salt() -> None:
    again = crypto.wrap_case_key_for_reporter(
        content_key(), CODE, case_id=42, kind=CONTENT, params=PARAMS
    )
    assert again[20:36] != reporter_blob()[20:36]


@given(data=st.data())
@settings(max_examples=100, deadline=None)
def test_flipping_any_bit_is_detected(data: st.DataObject) -> None:
    blob = bytearray(reporter_blob())
    # Bytes 11..13 are the high bytes of the Argon2 memory cost: flipping them is detected
    # as well, but only after a derivation of up to 2 GiB (see test_crypto_keypairs).
    bit = data.draw(
        st.integers(min_value=0, max_value=len(blob) * 8 - 1).filter(
            lambda b: b // 8 not in (11, 12, 13)
        )
    )
    blob[bit // 8] ^= 1 << (bit % 8)
    with pytest.raises(crypto.OpenError):
        crypto.open_case_key_for_reporter(bytes(blob), CODE, case_id=42, kind=CONTENT)


def test_cutting_or_extending_is_detected() -> None:
    blob = reporter_blob()
    for cut in range(len(blob)):
        with pytest.raises(crypto.OpenError):
            crypto.open_case_key_for_reporter(blob[:cut], CODE, case_id=42, kind=CONTENT)
    with pytest.raises(crypto.OpenError):
        crypto.open_case_key_for_reporter(blob + b"\x00", CODE, case_id=42, kind=CONTENT)


@pytest.mark.parametrize(("offset", "value"), [(0, 0), (3, ord("K")), (4, 2), (5, 2), (6, 0)])
def test_unknown_header_bytes_are_refused(offset: int, value: int) -> None:
    blob = bytearray(reporter_blob())
    blob[offset] = value
    with pytest.raises(crypto.OpenError):
        crypto.open_case_key_for_reporter(bytes(blob), CODE, case_id=42, kind=CONTENT)


def test_alphabet_has_no_ambiguous_letters() -> None:
    assert not set("ILOU") & set(ALPHABET)
    assert set(ALPHABET) <= set(string.digits + string.ascii_uppercase)
