"""Elliptic curves of ICAO 9303 and their arithmetic.

Two facts shape this module. CSCA and DSC certificates usually give their curve as explicit parameters (ICAO 9303-12
asks for it), which pyca/cryptography refuses unless they are a NIST prime curve; and PACE needs arithmetic on a
mapped generator, which no high-level API offers. So curves are identified by their parameters here, points are plain
integers, and the arithmetic runs on ``ecdsa``'s field code, with ``cryptography`` used wherever it knows the curve.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from asn1crypto import keys as asn1_keys
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed, decode_dss_signature, encode_dss_signature
from ecdsa import curves as ecdsa_curves
from ecdsa import ellipticcurve

from mrtd._errors import ParseError
from mrtd._groups import Group, GroupElement


@dataclass(frozen=True, slots=True)
class Curve(Group):
    """A short-Weierstrass prime curve y² = x³ + ax + b over GF(p), with base point (gx, gy) of order n."""

    name: str
    oid: str
    p: int
    a: int
    b: int
    gx: int
    gy: int
    n: int
    h: int = 1

    @property
    def size(self) -> int:
        """Bytes in one coordinate."""
        return (self.p.bit_length() + 7) // 8

    @property
    def order(self) -> int:
        return self.n

    @property
    def cofactor(self) -> int:
        return self.h

    @property
    def generator(self) -> Point:
        return Point(self, self.gx, self.gy)

    def contains(self, x: int, y: int) -> bool:
        return 0 <= x < self.p and 0 <= y < self.p and (y * y - (x * x * x + self.a * x + self.b)) % self.p == 0

    def decode_point(self, data: bytes) -> Point:
        """An uncompressed point (``04 ‖ x ‖ y``); anything else, or a point off the curve, is a ParseError."""
        size = self.size
        if len(data) != 1 + 2 * size or data[0] != 0x04:
            raise ParseError(f"not an uncompressed point on {self.name}")
        x = int.from_bytes(data[1 : 1 + size], "big")
        y = int.from_bytes(data[1 + size :], "big")
        if not self.contains(x, y):
            raise ParseError(f"point is not on {self.name}")
        return Point(self, x, y)

    def decode(self, data: bytes) -> Point:
        return self.decode_point(data)

    def cryptography_curve(self) -> ec.EllipticCurve | None:
        """The pyca/cryptography curve object, or None for curves it does not implement (brainpoolP224r1, P320r1)."""
        factory = _CRYPTOGRAPHY_CURVES.get(self.name)
        return factory() if factory else None

    def _ecdsa_curve(self) -> ellipticcurve.CurveFp:
        return _ecdsa_curve_fp(self)


@cache
def _ecdsa_curve_fp(curve: Curve) -> ellipticcurve.CurveFp:
    return ellipticcurve.CurveFp(curve.p, curve.a, curve.b, curve.h)


@dataclass(frozen=True, slots=True)
class Point(GroupElement):
    """An affine point; ``x is None`` is the point at infinity."""

    curve: Curve
    x: int | None
    y: int | None

    @property
    def is_infinity(self) -> bool:
        return self.x is None

    @property
    def group(self) -> Curve:
        return self.curve

    @property
    def is_identity(self) -> bool:
        return self.x is None

    def _jacobian(self) -> ellipticcurve.PointJacobi:
        if self.x is None or self.y is None:
            return ellipticcurve.INFINITY
        return ellipticcurve.PointJacobi(self.curve._ecdsa_curve(), self.x, self.y, 1, self.curve.n)

    @classmethod
    def _from_ecdsa(cls, curve: Curve, point: ellipticcurve.AbstractPoint) -> Point:
        if point == ellipticcurve.INFINITY:
            return cls(curve, None, None)
        return cls(curve, int(point.x()), int(point.y()))

    def __mul__(self, scalar: int) -> Point:
        if self.is_infinity or scalar % self.curve.n == 0:
            return Point(self.curve, None, None)
        return Point._from_ecdsa(self.curve, self._jacobian() * (scalar % self.curve.n))

    __rmul__ = __mul__

    def __add__(self, other: Point) -> Point:
        if other.curve != self.curve:
            raise ValueError("points on different curves")
        if self.is_infinity:
            return other
        if other.is_infinity:
            return self
        return Point._from_ecdsa(self.curve, self._jacobian() + other._jacobian())

    def encode(self) -> bytes:
        """Uncompressed encoding ``04 ‖ x ‖ y``."""
        if self.x is None or self.y is None:
            raise ValueError("the point at infinity has no encoding")
        size = self.curve.size
        return b"\x04" + self.x.to_bytes(size, "big") + self.y.to_bytes(size, "big")

    def x_bytes(self) -> bytes:
        """The x coordinate as a field element: the ECDH shared secret of ICAO 9303-11."""
        if self.x is None:
            raise ValueError("the point at infinity has no coordinates")
        return self.x.to_bytes(self.curve.size, "big")


def _from_ecdsa_module(name: str, oid: str, source: ecdsa_curves.Curve) -> Curve:
    fp = source.curve
    gen = source.generator
    return Curve(
        name=name,
        oid=oid,
        p=int(fp.p()),
        a=int(fp.a()),
        b=int(fp.b()),
        gx=int(gen.x()),
        gy=int(gen.y()),
        n=int(source.order),
        h=int(fp.cofactor()) or 1,
    )


CURVES: tuple[Curve, ...] = (
    _from_ecdsa_module("secp192r1", "1.2.840.10045.3.1.1", ecdsa_curves.NIST192p),
    _from_ecdsa_module("secp224r1", "1.3.132.0.33", ecdsa_curves.NIST224p),
    _from_ecdsa_module("secp256r1", "1.2.840.10045.3.1.7", ecdsa_curves.NIST256p),
    _from_ecdsa_module("secp384r1", "1.3.132.0.34", ecdsa_curves.NIST384p),
    _from_ecdsa_module("secp521r1", "1.3.132.0.35", ecdsa_curves.NIST521p),
    _from_ecdsa_module("brainpoolP192r1", "1.3.36.3.3.2.8.1.1.3", ecdsa_curves.BRAINPOOLP192r1),
    _from_ecdsa_module("brainpoolP224r1", "1.3.36.3.3.2.8.1.1.5", ecdsa_curves.BRAINPOOLP224r1),
    _from_ecdsa_module("brainpoolP256r1", "1.3.36.3.3.2.8.1.1.7", ecdsa_curves.BRAINPOOLP256r1),
    _from_ecdsa_module("brainpoolP320r1", "1.3.36.3.3.2.8.1.1.9", ecdsa_curves.BRAINPOOLP320r1),
    _from_ecdsa_module("brainpoolP384r1", "1.3.36.3.3.2.8.1.1.11", ecdsa_curves.BRAINPOOLP384r1),
    _from_ecdsa_module("brainpoolP512r1", "1.3.36.3.3.2.8.1.1.13", ecdsa_curves.BRAINPOOLP512r1),
)

_CRYPTOGRAPHY_CURVES: dict[str, type[ec.EllipticCurve]] = {
    "secp192r1": ec.SECP192R1,
    "secp224r1": ec.SECP224R1,
    "secp256r1": ec.SECP256R1,
    "secp384r1": ec.SECP384R1,
    "secp521r1": ec.SECP521R1,
    "brainpoolP256r1": ec.BrainpoolP256R1,
    "brainpoolP384r1": ec.BrainpoolP384R1,
    "brainpoolP512r1": ec.BrainpoolP512R1,
}

# ICAO 9303-11 §9.5.1, standardized domain parameters for PACE (ids 0-2 are the MODP groups, not curves).
PACE_PARAMETER_IDS: dict[int, str] = {
    8: "secp192r1",
    9: "brainpoolP192r1",
    10: "secp224r1",
    11: "brainpoolP224r1",
    12: "secp256r1",
    13: "brainpoolP256r1",
    14: "brainpoolP320r1",
    15: "secp384r1",
    16: "brainpoolP384r1",
    17: "brainpoolP512r1",
    18: "secp521r1",
}

_BY_NAME = {c.name: c for c in CURVES}
_BY_OID = {c.oid: c for c in CURVES}


def curve_by_name(name: str) -> Curve:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ParseError(f"unsupported elliptic curve {name}") from None


def curve_by_oid(oid: str) -> Curve:
    try:
        return _BY_OID[oid]
    except KeyError:
        raise ParseError(f"unsupported elliptic curve {oid}") from None


def curve_by_pace_parameter_id(parameter_id: int) -> Curve:
    try:
        return _BY_NAME[PACE_PARAMETER_IDS[parameter_id]]
    except KeyError:
        raise ParseError(f"PACE domain parameter id {parameter_id} is not a supported elliptic curve") from None


def match_explicit(*, p: int, a: int, b: int, gx: int, gy: int, n: int) -> Curve:
    """The named curve with exactly these parameters; explicit parameters of any other curve are refused."""
    for curve in CURVES:
        if (curve.p, curve.a % curve.p, curve.b % curve.p, curve.gx, curve.gy, curve.n) == (p, a % p, b % p, gx, gy, n):
            return curve
    raise ParseError("explicit elliptic-curve parameters match no supported named curve")


def curve_from_parameters(parameters: asn1_keys.ECDomainParameters) -> Curve:
    """The curve of an ECParameters value, named (an OID) or explicit (SpecifiedECDomain)."""
    try:
        if parameters.name == "named":
            oid = parameters.chosen.dotted
            return curve_by_oid(oid)
        if parameters.name != "specified":
            raise ParseError("implicitly-CA curve parameters cannot be used")
        spec = parameters.chosen
        if spec["field_id"]["field_type"].native != "prime_field":
            raise ParseError("only prime-field curves are supported")
        p = int(spec["field_id"]["parameters"].native)
        a = int.from_bytes(spec["curve"]["a"].native, "big")
        b = int.from_bytes(spec["curve"]["b"].native, "big")
        base = spec["base"].native
        n = int(spec["order"].native)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ParseError(f"malformed elliptic-curve parameters: {exc}") from exc
    size = (p.bit_length() + 7) // 8
    if len(base) != 1 + 2 * size or base[0] != 0x04:
        raise ParseError("explicit curve base point is not uncompressed")
    return match_explicit(
        p=p, a=a, b=b, gx=int.from_bytes(base[1 : 1 + size], "big"), gy=int.from_bytes(base[1 + size :], "big"), n=n
    )


@dataclass(frozen=True, slots=True)
class EcPublicKey:
    """An EC public key whatever its encoding: the curve identified, the point validated."""

    curve: Curve
    point: Point

    def verify_digest(self, signature_der: bytes, digest: bytes, hash_algorithm: hashes.HashAlgorithm) -> bool:
        """Check an ECDSA signature (DER) over a precomputed digest. False when it does not verify."""
        crypto_curve = self.curve.cryptography_curve()
        if crypto_curve is not None:
            try:
                key = ec.EllipticCurvePublicKey.from_encoded_point(crypto_curve, self.point.encode())
                key.verify(signature_der, digest, ec.ECDSA(Prehashed(hash_algorithm)))
            except (InvalidSignature, ValueError, UnsupportedAlgorithm):
                return False
            return True
        return _verify_with_ecdsa_module(self, signature_der, digest)

    def verify_plain(self, signature: bytes, digest: bytes, hash_algorithm: hashes.HashAlgorithm) -> bool:
        """Check a "plain" ECDSA signature r ‖ s (BSI TR-03111), as chips return for active authentication."""
        if len(signature) % 2 or not signature:
            return False
        half = len(signature) // 2
        r = int.from_bytes(signature[:half], "big")
        s = int.from_bytes(signature[half:], "big")
        return self.verify_digest(encode_dss_signature(r, s), digest, hash_algorithm)


def _verify_with_ecdsa_module(key: EcPublicKey, signature_der: bytes, digest: bytes) -> bool:
    try:
        r, s = decode_dss_signature(signature_der)
    except ValueError:
        return False
    n = key.curve.n
    if not (0 < r < n and 0 < s < n):
        return False
    # Truncate the digest to the bit length of n, as ECDSA specifies.
    e = int.from_bytes(digest, "big")
    excess = len(digest) * 8 - n.bit_length()
    if excess > 0:
        e >>= excess
    w = pow(s, -1, n)
    point = key.curve.generator * (e * w % n) + key.point * (r * w % n)
    return point.x is not None and point.x % n == r


def load_ec_public_key(spki_der: bytes) -> EcPublicKey:
    """Load a SubjectPublicKeyInfo holding an EC key with named or explicit parameters."""
    try:
        info = asn1_keys.PublicKeyInfo.load(spki_der, strict=True)
        if info["algorithm"]["algorithm"].native != "ec":
            raise ParseError("not an elliptic-curve public key")
        parameters = info["algorithm"]["parameters"]
        point_bytes = bytes(info["public_key"].contents[1:])  # skip the BIT STRING's unused-bits octet
    except (ValueError, TypeError, KeyError) as exc:
        raise ParseError(f"malformed public key: {exc}") from exc
    curve = curve_from_parameters(parameters)
    return EcPublicKey(curve, curve.decode_point(point_bytes))
