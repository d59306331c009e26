"""Signature algorithms by OID, each checked on a signature OpenSSL made: X9.62 and BSI plain ECDSA (including the
brainpool curves pyca/cryptography lacks), ecPublicKey/rsaEncryption with the hash from digestAlgorithm, PSS."""

from pathlib import Path

import pytest
from openssl_dump import ecdsa_plain, run

from mrtd import ParseError
from mrtd._keys import load_public_key
from mrtd._signatures import SignatureAlgorithm, verify_signature

MESSAGE = b"signed attributes, re-tagged as SET"


def _key_and_signature(tmp_path: Path, spec: list[str], digest: str, *extra: str) -> tuple[bytes, bytes]:
    key = tmp_path / "key.pem"
    run("genpkey", *spec, "-out", str(key), cwd=tmp_path)
    (tmp_path / "message").write_bytes(MESSAGE)
    signature = run("dgst", f"-{digest}", "-sign", str(key), *extra, "message", cwd=tmp_path)
    spki = run("pkey", "-in", str(key), "-pubout", "-outform", "DER", cwd=tmp_path)
    return spki, signature


@pytest.mark.parametrize(
    ("curve", "size"),
    [("brainpoolP224r1", 28), ("brainpoolP320r1", 40), ("brainpoolP256r1", 32), ("secp384r1", 48)],
)
def test_ecdsa_der_and_plain_on_explicit_parameters(tmp_path: Path, curve: str, size: int) -> None:
    spec = ["-algorithm", "EC", "-pkeyopt", f"ec_paramgen_curve:{curve}", "-pkeyopt", "ec_param_enc:explicit"]
    spki, signature = _key_and_signature(tmp_path, spec, "sha256")
    key = load_public_key(spki)
    assert key.ec is not None
    assert key.ec.curve.name == curve
    assert verify_signature(key, SignatureAlgorithm("1.2.840.10045.4.3.2"), MESSAGE, signature)
    plain = ecdsa_plain(signature, size)
    assert verify_signature(key, SignatureAlgorithm("0.4.0.127.0.7.1.1.4.1.3"), MESSAGE, plain)
    # ecPublicKey as the signature algorithm: the hash comes from the SignerInfo's digestAlgorithm.
    ec_public_key = SignatureAlgorithm("1.2.840.10045.2.1")
    assert verify_signature(key, ec_public_key, MESSAGE, signature, digest_algorithm="sha256")
    assert not verify_signature(key, ec_public_key, MESSAGE, signature, digest_algorithm="sha384")
    assert not verify_signature(key, SignatureAlgorithm("1.2.840.10045.4.3.2"), MESSAGE + b".", signature)
    assert not verify_signature(key, SignatureAlgorithm("0.4.0.127.0.7.1.1.4.1.3"), MESSAGE, plain[::-1])


def test_rsa_pkcs1_and_rsa_encryption_oid(tmp_path: Path) -> None:
    spki, signature = _key_and_signature(tmp_path, ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"], "sha384")
    key = load_public_key(spki)
    assert verify_signature(key, SignatureAlgorithm("1.2.840.113549.1.1.12"), MESSAGE, signature)
    rsa_encryption = SignatureAlgorithm("1.2.840.113549.1.1.1")
    assert verify_signature(key, rsa_encryption, MESSAGE, signature, digest_algorithm="sha384")
    assert not verify_signature(key, rsa_encryption, MESSAGE, signature, digest_algorithm="sha256")
    with pytest.raises(ParseError, match="without a digest algorithm"):
        verify_signature(key, rsa_encryption, MESSAGE, signature)
    with pytest.raises(ParseError, match="does not fit an RSA key"):
        verify_signature(key, SignatureAlgorithm("1.2.840.10045.4.3.2"), MESSAGE, signature)


def test_rsa_pss_parameters_come_from_the_algorithm_identifier(tmp_path: Path) -> None:
    spki, signature = _key_and_signature(
        tmp_path,
        ["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
        "sha256",
        "-sigopt", "rsa_padding_mode:pss", "-sigopt", "rsa_pss_saltlen:32", "-sigopt", "rsa_mgf1_md:sha256",
    )  # fmt: skip
    key = load_public_key(spki)
    # RSASSA-PSS-params { [0] sha256, [1] mgf1(sha256), [2] 32 }, as in the ID, MY and SG SODs.
    params = bytes.fromhex(
        "3034" + "A00F300D06096086480165030402010500" + "A11C301A06092A864886F70D010108300D06096086480165030402010500"
        + "A203020120"
    )  # fmt: skip
    assert verify_signature(key, SignatureAlgorithm("1.2.840.113549.1.1.10", params), MESSAGE, signature)
    wrong_salt = params[:-1] + b"\x14"
    assert not verify_signature(key, SignatureAlgorithm("1.2.840.113549.1.1.10", wrong_salt), MESSAGE, signature)
    # No parameters means the RFC 4055 defaults (SHA-1, salt 20): not what OpenSSL used here.
    assert not verify_signature(key, SignatureAlgorithm("1.2.840.113549.1.1.10"), MESSAGE, signature)
    with pytest.raises(ParseError):
        verify_signature(key, SignatureAlgorithm("1.2.840.113549.1.1.10", b"\x30\x03\x02\x01"), MESSAGE, signature)


def test_unknown_algorithms_are_parse_errors(tmp_path: Path) -> None:
    spki, signature = _key_and_signature(
        tmp_path, ["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"], "sha256"
    )
    with pytest.raises(ParseError):
        verify_signature(load_public_key(spki), SignatureAlgorithm("1.3.101.112"), MESSAGE, signature)


def test_small_or_odd_rsa_keys_are_refused() -> None:
    # RSA 512 (below the 1000-bit floor) from RFC test material: n = 0xC0...; built by hand as an SPKI.
    n = (1 << 511) | 0x1234567  # odd, 512 bits
    modulus = n.to_bytes(65, "big")
    rsa_key = bytes.fromhex("3048") + bytes.fromhex("0241") + modulus + bytes.fromhex("0203010001")
    spki = bytes.fromhex("305C300D06092A864886F70D0101010500034B00") + rsa_key
    with pytest.raises(ParseError, match="outside"):
        load_public_key(spki)
