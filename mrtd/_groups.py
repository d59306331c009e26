"""What PACE and chip authentication need from a group: elliptic curves (``_curves``) and the finite-field groups of
RFC 5114 (``_modp``), both written additively so one implementation of each protocol step serves both (ICAO 9303-11
§4.4 defines every step for a generic group in the same way)."""

from __future__ import annotations

import abc
from typing import Self


class GroupElement(abc.ABC):
    """A point on a curve, or a residue mod p: ``element * k`` is the scalar multiple (the power), ``a + b`` the
    group operation."""

    __slots__ = ()

    @property
    @abc.abstractmethod
    def group(self) -> Group: ...

    @property
    @abc.abstractmethod
    def is_identity(self) -> bool:
        """The neutral element: the point at infinity, or 1."""

    @abc.abstractmethod
    def __mul__(self, scalar: int) -> Self: ...

    @abc.abstractmethod
    def __add__(self, other: Self) -> Self: ...

    @abc.abstractmethod
    def encode(self) -> bytes:
        """The public-key encoding sent in GENERAL AUTHENTICATE: ``04 ‖ x ‖ y``, or y as |p| bytes."""

    @abc.abstractmethod
    def x_bytes(self) -> bytes:
        """The shared secret an agreed element gives (ICAO 9303-11 §9.6): x as a field element, or y as |p| bytes."""


class Group(abc.ABC):
    """A prime-order group with its standard generator."""

    __slots__ = ()

    name: str

    @property
    @abc.abstractmethod
    def order(self) -> int:
        """The order of the generator (n of a curve, q of a MODP group): private keys are drawn below it."""

    @property
    @abc.abstractmethod
    def cofactor(self) -> int: ...

    @property
    @abc.abstractmethod
    def size(self) -> int:
        """Bytes in one field element."""

    @property
    @abc.abstractmethod
    def generator(self) -> GroupElement: ...

    @abc.abstractmethod
    def decode(self, data: bytes) -> GroupElement:
        """A peer's public key, validated as an element of the prime-order group; anything else is a ParseError."""
