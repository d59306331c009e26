"""Fuzzing where byte flips do not reach: structure-aware mutation (tests/mrtd/der_mutator.py) of the certificates
inside an SOD, of CSCAs, CRLs and master lists, and inputs built field by field for DG2 face records, DG15 keys and
DG13. Only our typed errors may come out, and every example must finish well inside its deadline."""

from __future__ import annotations

import datetime as dt
import random
import struct
import unicodedata
from dataclasses import dataclass

import der_mutator
import foreign_dump as fd
import pytest
from asn1crypto import cms, core
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mrtd import (
    FileId,
    MrtdError,
    ParseError,
    TrustStore,
    TrustStoreError,
    parse_dg2,
    parse_dg13,
    parse_dg15,
    parse_sod,
    verify_active_authentication,
    verify_document,
)
from mrtd._passive_auth import passive_authentication

_FUZZ = settings(
    max_examples=120,
    deadline=dt.timedelta(seconds=10),  # a hang or a runaway computation fails the example
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
_NOW = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1)


@dataclass
class Seeds:
    dump: fd.ForeignDump
    rsa_dump: fd.ForeignDump
    sod_tree: list[der_mutator.Node]
    rsa_sod_tree: list[der_mutator.Node]
    dsc: bytes
    rsa_dsc: bytes
    csca: bytes
    crl: bytes
    master_list: bytes
    master_list_root: bytes


def _signer_certificate(sod: bytes) -> bytes:
    info = cms.ContentInfo.load(der_mutator.decode(sod)[0].value)
    return bytes(info["content"]["certificates"][0].chosen.dump())


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> Seeds:
    work = tmp_path_factory.mktemp("fuzz")
    dump = fd.build(work / "ec", csca_key="ec-explicit:brainpoolP256r1", dsc_key="ec-explicit:brainpoolP256r1")
    rsa_dump = fd.build(
        work / "rsa", csca_key="rsa:2048", dsc_key="rsa:2048", options=fd.SignOptions(pss=True), with_dg2=False
    )
    crl = dump.csca.crl()
    now = dt.datetime.now(dt.UTC)
    root = fd.make_ca(work / "root", "CSCA List Root", key_spec="ec:prime256v1")
    key, cert = root.issue("List Signer", key_spec="ec:prime256v1", start=now - dt.timedelta(days=5),
                           end=now + dt.timedelta(days=300),
                           extensions=(*fd.DSC_EXTENSIONS, "extendedKeyUsage = critical, 2.23.136.1.1.3"))  # fmt: skip
    content = work / "list.der"
    content.write_bytes(fd.der(0x30, fd.der_int(0) + fd.der(0x31, dump.csca.cert_der + root.cert_der)))
    signed = work / "list.ml"
    fd.openssl("cms", "-sign", "-binary", "-nodetach", "-in", str(content), "-signer", str(cert), "-inkey", str(key),
               "-outform", "DER", "-out", str(signed), "-econtent_type", "2.23.136.1.1.2", cwd=work)  # fmt: skip
    return Seeds(
        dump=dump,
        rsa_dump=rsa_dump,
        sod_tree=der_mutator.decode(dump.files["SOD"]),
        rsa_sod_tree=der_mutator.decode(rsa_dump.files["SOD"]),
        dsc=_signer_certificate(dump.files["SOD"]),
        rsa_dsc=_signer_certificate(rsa_dump.files["SOD"]),
        csca=dump.csca.cert_der,
        crl=crl,
        master_list=signed.read_bytes(),
        master_list_root=root.cert_der,
    )


def _store(*certificates: bytes) -> TrustStore:
    store = TrustStore()
    for der in certificates:
        store.add_certificate(der)
    return store


def _verify_everything(sod: bytes, seeds: Seeds, store: TrustStore) -> None:
    """Parse, passive authentication and the whole report, as ``cccd card verify`` runs them."""
    files = {FileId.SOD: sod, FileId.DG1: seeds.dump.files["DG1"], FileId.DG13: seeds.dump.files["DG13"]}
    try:
        parsed = parse_sod(sod)
    except ParseError:
        parsed = None
    if parsed is not None:
        result = passive_authentication(parsed, files, trust_store=store, at=_NOW)
        assert result.signature.reason
    report = verify_document(files, trust_store=store, at=_NOW)
    assert report.to_json()["verdict"] in ("genuine", "not_genuine", "incomplete")


@_FUZZ
@given(seed=st.integers(0, 2**32 - 1), count=st.integers(1, 4), rsa=st.booleans())
def test_sods_with_mutated_certificates_give_only_our_errors(seeds: Seeds, seed: int, count: int, rsa: bool) -> None:
    tree, dsc = (seeds.rsa_sod_tree, seeds.rsa_dsc) if rsa else (seeds.sod_tree, seeds.dsc)
    mutated = der_mutator.mutate(tree, random.Random(seed), count, within=dsc)
    csca = seeds.rsa_dump.csca.cert_der if rsa else seeds.csca
    _verify_everything(mutated, seeds, _store(csca))


@_FUZZ
@given(seed=st.integers(0, 2**32 - 1), count=st.integers(1, 4))
def test_sods_with_any_mutated_element_give_only_our_errors(seeds: Seeds, seed: int, count: int) -> None:
    mutated = der_mutator.mutate(seeds.sod_tree, random.Random(seed), count)
    # The DSC in the store too, so an SOD whose own certificate is gone still reaches verification.
    _verify_everything(mutated, seeds, _store(seeds.csca, seeds.dsc))


@_FUZZ
@given(seed=st.integers(0, 2**32 - 1), count=st.integers(1, 4))
def test_mutated_cscas_give_only_our_errors(seeds: Seeds, seed: int, count: int) -> None:
    mutated = der_mutator.mutate(der_mutator.decode(seeds.csca), random.Random(seed), count)
    store = TrustStore()
    try:
        store.add_certificate(mutated)
    except TrustStoreError:
        return
    _verify_everything(seeds.dump.files["SOD"], seeds, store)


@_FUZZ
@given(seed=st.integers(0, 2**32 - 1), count=st.integers(1, 4))
def test_mutated_crls_give_only_our_errors(seeds: Seeds, seed: int, count: int) -> None:
    mutated = der_mutator.mutate(der_mutator.decode(seeds.crl), random.Random(seed), count)
    store = _store(seeds.csca)
    try:
        store.add_crl(mutated)
    except TrustStoreError:
        return
    _verify_everything(seeds.dump.files["SOD"], seeds, store)


@_FUZZ
@given(seed=st.integers(0, 2**32 - 1), count=st.integers(1, 4))
def test_mutated_master_lists_give_only_our_errors(seeds: Seeds, seed: int, count: int) -> None:
    mutated = der_mutator.mutate(der_mutator.decode(seeds.master_list), random.Random(seed), count)
    store = _store(seeds.master_list_root)
    try:
        store.add_master_list(mutated, at=_NOW)
    except TrustStoreError:
        return
    # A list that still loads was signed as it is: only its signer's changes of no consequence survive.
    assert len(store) >= 1


def test_the_master_list_seed_loads(seeds: Seeds) -> None:
    """The fuzzed seed is a good list: the test above starts from something that verifies."""
    store = _store(seeds.master_list_root)
    info = store.add_master_list(seeds.master_list, at=_NOW)
    assert (info.certificates, info.added) == (2, 1)  # the root itself was already trusted


# --- DG2 face records built field by field ------------------------------------------------------------------------

_JPEG_START = b"\xff\xd8\xff\xe0"
_JP2_START = b"\x00\x00\x00\x0cjP  \r\n\x87\n"


@st.composite
def _face_records(draw: st.DrawFn) -> bytes:
    images = draw(st.integers(0, 3))
    blocks = b""
    for _ in range(images):
        points = draw(st.integers(0, 300))
        real_points = min(points, draw(st.integers(0, 4)))
        image = draw(st.sampled_from([_JPEG_START, _JP2_START, b"", b"GIF8"])) + draw(st.binary(max_size=40))
        declared = draw(st.integers(0, 2**32 - 1) | st.just(20 + 8 * real_points + 12 + len(image)))
        facial = struct.pack(">IHBBB3sH3s3s", declared, points, *draw(st.tuples(*[st.integers(0, 255)] * 3)),
                             b"\x00" * 3, 0, b"\x00" * 3, b"\x00" * 3)  # fmt: skip
        info = struct.pack(">BBHHBBHH", draw(st.integers(0, 3)), draw(st.integers(0, 3)),
                           *draw(st.tuples(st.integers(0, 65535), st.integers(0, 65535))), 1, 2, 0, 0)  # fmt: skip
        blocks += facial + bytes(8 * real_points) + info + image
    count = draw(st.integers(0, 20) | st.just(images))
    length = draw(st.integers(0, 2**32 - 1) | st.just(14 + len(blocks)))
    magic = draw(st.sampled_from([b"FAC\x00", b"FAC\x01", b"XXXX"]))
    version = draw(st.sampled_from([b"010\x00", b"020\x00"]))
    return magic + version + struct.pack(">IH", length, count) + blocks


@st.composite
def _dg2s(draw: st.DrawFn) -> bytes:
    record = draw(_face_records())
    header = fd.der(0xA1, fd.der(0x80, b"\x01\x01") + fd.der(0x81, b"\x02"))
    kind = draw(st.sampled_from(["19794", "39794", "no-block", "nested-39794"]))
    if kind == "19794":
        block = fd.der(b"\x5f\x2e", record)
    elif kind == "39794":
        block = fd.der(b"\x7f\x2e", fd.der(0xA1, fd.der(0x80, draw(st.binary(max_size=30)))))
    elif kind == "nested-39794":
        inner = fd.der(0x80, _JPEG_START + draw(st.binary(max_size=30)))
        for _ in range(draw(st.integers(0, 40))):
            inner = fd.der(0xA1, inner)
        block = fd.der(b"\x7f\x2e", inner)
    else:
        block = b""
    templates = draw(st.integers(0, 3))
    body = fd.der(0x02, bytes([draw(st.integers(0, 5))])) + fd.der(b"\x7f\x60", header + block) * templates
    return fd.der(0x75, fd.der(b"\x7f\x61", body))


@_FUZZ
@given(_dg2s())
def test_dg2_built_field_by_field_gives_only_parse_errors(data: bytes) -> None:
    try:
        dg2 = parse_dg2(data)
    except ParseError:
        return
    for face in dg2.faces:
        assert face.image.startswith((_JPEG_START[:3], _JP2_START, b"\xff\x4f\xff\x51"))


# --- DG15 keys ----------------------------------------------------------------------------------------------------

_CURVE_OIDS = ["1.2.840.10045.3.1.7", "1.3.132.0.34", "1.3.36.3.3.2.8.1.1.7", "1.3.36.3.3.2.8.1.1.11", "1.2.3.4"]


def _spki(algorithm: bytes, key: bytes) -> bytes:
    return fd.der(0x30, fd.der(0x30, algorithm) + fd.der(0x03, b"\x00" + key))


@st.composite
def _dg15s(draw: st.DrawFn) -> bytes:
    kind = draw(st.sampled_from(["rsa", "ec-named", "ec-explicit", "other"]))
    if kind == "rsa":
        bits = draw(st.integers(8, 8300))
        modulus = draw(st.integers(0, 2**bits))
        exponent = draw(st.sampled_from([3, 65537, 1, 0, 2]) | st.integers(0, 2**bits))
        key = fd.der(0x30, fd.der_int(modulus) + fd.der_int(exponent))
        oid = draw(st.sampled_from(["1.2.840.113549.1.1.1", "1.2.840.113549.1.1.10"]))
        return fd.der(0x6F, _spki(fd.der_oid(oid) + fd.der(0x05, b""), key))
    point = draw(st.sampled_from([b"\x04", b"\x02", b"\x03", b"\x00"])) + draw(st.binary(max_size=140))
    if kind == "ec-named":
        parameters = fd.der_oid(draw(st.sampled_from(_CURVE_OIDS)))
    elif kind == "ec-explicit":
        size = draw(st.sampled_from([32, 48, 64]))
        numbers = [draw(st.integers(0, 2 ** (8 * size))) for _ in range(4)]
        field_id = fd.der(0x30, fd.der_oid("1.2.840.10045.1.1") + fd.der_int(numbers[0]))
        curve = fd.der(0x30, fd.der(0x04, numbers[1].to_bytes(size + 1, "big")) + fd.der(0x04, b"\x07"))
        base = fd.der(0x04, b"\x04" + draw(st.binary(min_size=2 * size, max_size=2 * size)))
        parameters = fd.der(0x30, fd.der_int(1) + field_id + curve + base + fd.der_int(numbers[2]) + fd.der_int(1))
    else:
        parameters = fd.der(0x05, b"")
        return fd.der(0x6F, _spki(fd.der_oid("1.3.101.112"), point))
    return fd.der(0x6F, _spki(fd.der_oid("1.2.840.10045.2.1") + parameters, point))


@_FUZZ
@given(_dg15s(), st.binary(min_size=8, max_size=8), st.binary(max_size=600))
def test_dg15_keys_built_field_by_field_give_only_our_errors(data: bytes, challenge: bytes, signature: bytes) -> None:
    try:
        dg15 = parse_dg15(data)
    except ParseError:
        return
    try:
        verify_active_authentication(dg15.public_key, challenge=challenge, signature=signature, info=None)
    except MrtdError:
        return


# --- DG13 built field by field ------------------------------------------------------------------------------------

_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30)


@st.composite
def _dg13_values(draw: st.DrawFn, depth: int = 0) -> bytes:
    kind = draw(st.sampled_from(["utf8", "printable", "bmp", "teletex", "universal", "int", "seq", "raw"]))
    text = draw(_TEXT)
    if kind == "utf8":
        return core.UTF8String(text).dump()
    if kind == "printable":
        return fd.der(0x13, text.encode("utf-8"))
    if kind == "bmp":
        return fd.der(0x1E, draw(st.binary(max_size=20)))
    if kind == "teletex":
        return fd.der(0x14, draw(st.binary(max_size=20)))
    if kind == "universal":
        return fd.der(0x1C, draw(st.binary(max_size=20)))
    if kind == "int":
        return fd.der_int(draw(st.integers(-(2**70), 2**70)))
    if kind == "seq" and depth < 6:
        return fd.der(0x30, b"".join(draw(st.lists(_dg13_values(depth + 1), max_size=3))))
    return fd.der(draw(st.integers(1, 0x1E)), draw(st.binary(max_size=10)))


@st.composite
def _dg13s(draw: st.DrawFn) -> bytes:
    fields = []
    for _ in range(draw(st.integers(0, 18))):
        number = draw(st.integers(1, 16) | st.integers(-5, 400))
        values = b"".join(draw(st.lists(_dg13_values(), max_size=3)))
        fields.append(fd.der(0x30, fd.der_int(number) + values))
    envelope = fd.der_int(draw(st.integers(0, 3))) + fd.der_oid("1.0.10646.1.0.8") + fd.der(0x31, b"".join(fields))
    return fd.der(0x6D, fd.der(0x30, envelope))


@_FUZZ
@given(_dg13s())
def test_dg13_built_field_by_field_gives_only_parse_errors(data: bytes) -> None:
    try:
        dg13 = parse_dg13(data)
    except ParseError:
        return
    for item in dg13.fields:
        assert all(unicodedata.is_normalized("NFC", text) for text in item.texts)
    holder = dg13.to_holder()
    assert holder.sex in (None, "M", "F")


def test_the_fuzzed_seeds_verify(seeds: Seeds) -> None:
    """The mutations start from documents that verify, so a passing fuzz run means something."""
    for dump in (seeds.dump, seeds.rsa_dump):
        files = {
            FileId.SOD if k == "SOD" else FileId.COM if k == "COM" else FileId[k]: v for k, v in dump.files.items()
        }
        report = verify_document(files, trust_store=_store(dump.csca.cert_der), at=_NOW)
        assert report.genuine, report.reasons
