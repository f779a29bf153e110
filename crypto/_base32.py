"""Crockford's base32 (digits and letters without I, L, O, U) for text people copy by hand.

Decoding forgives what people do: lower case, spaces and dashes, O for 0, I and L for 1.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

ALPHABET: Final = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_VALUES: Final = MappingProxyType({c: i for i, c in enumerate(ALPHABET)} | {"O": 0, "I": 1, "L": 1})
_SEPARATORS: Final = frozenset(" \t\r\n-\u2010\u2011\u2012\u2013\u2014_.")


def encode(data: bytes) -> str:
    """Big-endian bits, 5 per symbol; the last symbol is padded with zero bits."""
    nbits = len(data) * 8
    nchars = -(-nbits // 5)
    number = int.from_bytes(data, "big") << (nchars * 5 - nbits)
    return "".join(ALPHABET[(number >> (5 * (nchars - 1 - i))) & 31] for i in range(nchars))


def encoded_length(nbytes: int) -> int:
    return -(-nbytes * 8 // 5)


def normalise(text: str) -> str:
    """Upper-case, drop separators, map O/I/L; ValueError on any other character."""
    out = []
    for char in text.upper():
        if char in _SEPARATORS:
            continue
        value = _VALUES.get(char)
        if value is None:
            raise ValueError("not a base32 character")
        out.append(ALPHABET[value])
    return "".join(out)


def decode(symbols: str, nbytes: int) -> bytes:
    """Inverse of :func:`encode` for already normalised ``symbols``; ValueError if the length
    is wrong or padding bits are set."""
    if len(symbols) != encoded_length(nbytes):
        raise ValueError("wrong number of base32 characters")
    number = 0
    for char in symbols:
        number = (number << 5) | _VALUES[char]
    pad = len(symbols) * 5 - nbytes * 8
    if number & ((1 << pad) - 1):
        raise ValueError("non-zero padding bits")
    return (number >> pad).to_bytes(nbytes, "big")
