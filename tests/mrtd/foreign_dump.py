"""Chip dumps the way other people's tools make them, for judging ``cccd card verify`` from the outside.

Nothing here uses an encoder of ours, nor ``openssl_dump.py``: keys come from ``openssl genrsa``, ``ecparam`` and
``genpkey``, certificates from an ``openssl ca`` with its own configuration (any validity, link certificates, CRLs), the
LDSSecurityObject from asn1crypto's generic types or from hand-written DER, the SOD from ``openssl cms -sign`` or
``openssl smime -sign`` (PKCS#7 with id-data), and the data groups from three DG13 encoders (asn1crypto generic types,
``openssl asn1parse -genconf``, bytes per cccd-spec §4.2) and hand-made DG1 (TD1 CCCD and TD3), DG2 and DG15.
Dump folders are written under the file names other readers use (JMRTD's FIDs, pypassport's, Proxmark's ``EF_*.BIN``).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import shutil
import subprocess
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from asn1crypto import core

OPENSSL = shutil.which("openssl")

ID_LDS_SECURITY_OBJECT = "2.23.136.1.1.1"
_HASH_OIDS = {
    "sha1": "1.3.14.3.2.26",
    "sha224": "2.16.840.1.101.3.4.2.4",
    "sha256": "2.16.840.1.101.3.4.2.1",
    "sha384": "2.16.840.1.101.3.4.2.2",
    "sha512": "2.16.840.1.101.3.4.2.3",
}
# ICAO 9303-10 tags and FIDs, written out here rather than taken from mrtd.FileId.
TAGS = {"COM": 0x60, "DG1": 0x61, "DG2": 0x75, "DG13": 0x6D, "DG14": 0x6E, "DG15": 0x6F, "SOD": 0x77}
FIDS = {"COM": "011E", "SOD": "011D", "CardAccess": "011C", **{f"DG{n}": f"01{n:02X}" for n in range(1, 17)}}


# --- DER by hand --------------------------------------------------------------------------------------------------


def der_length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def der(tag: int | bytes, body: bytes) -> bytes:
    tag_bytes = tag if isinstance(tag, bytes) else bytes([tag])
    return tag_bytes + der_length(len(body)) + body


def der_int(value: int) -> bytes:
    return der(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big", signed=True))


def der_oid(dotted: str) -> bytes:
    return core.ObjectIdentifier(dotted).dump()


# --- openssl ------------------------------------------------------------------------------------------------------


def openssl(*args: str, cwd: Path, stdin: bytes | None = None) -> bytes:
    assert OPENSSL is not None, "the openssl command is needed to build foreign dumps"
    result = subprocess.run([OPENSSL, *args], cwd=cwd, input=stdin, capture_output=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)}: {result.stderr.decode(errors='replace')}")
    return result.stdout


def make_key(path: Path, spec: str) -> Path:
    """``rsa:BITS``, ``rsa-pss:BITS`` (an RSASSA-PSS key), ``ec:CURVE`` (named) or ``ec-explicit:CURVE``."""
    kind, _, param = spec.partition(":")
    cwd = path.parent
    if kind == "rsa":
        openssl("genrsa", "-out", str(path), param, cwd=cwd)
    elif kind == "rsa-pss":
        openssl("genpkey", "-algorithm", "RSA-PSS", "-pkeyopt", f"rsa_keygen_bits:{param}", "-out", str(path), cwd=cwd)
    elif kind in ("ec", "ec-explicit"):
        encoding = "explicit" if kind == "ec-explicit" else "named_curve"
        openssl("ecparam", "-name", param, "-param_enc", encoding, "-genkey", "-noout", "-out", str(path), cwd=cwd)
    else:
        raise ValueError(spec)
    path.chmod(0o600)
    return path


def public_key_der(key: Path) -> bytes:
    return openssl("pkey", "-in", str(key), "-pubout", "-outform", "DER", cwd=key.parent)


def _stamp(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y%m%d%H%M%SZ")


CSCA_EXTENSIONS = (
    "basicConstraints = critical, CA:TRUE, pathlen:0",
    "keyUsage = critical, keyCertSign, cRLSign",
    "subjectKeyIdentifier = hash",
    "authorityKeyIdentifier = keyid",
)
DSC_EXTENSIONS = (
    "keyUsage = critical, digitalSignature",
    "subjectKeyIdentifier = hash",
    "authorityKeyIdentifier = keyid",
)


@dataclass
class Ca:
    """One certification authority run with ``openssl ca`` (its own database, serials and CRL numbers)."""

    directory: Path
    name: str
    key: Path
    cert: Path

    @property
    def cert_der(self) -> bytes:
        return openssl("x509", "-in", str(self.cert), "-outform", "DER", cwd=self.directory)

    def _config(self) -> Path:
        config = self.directory / "ca.cnf"
        config.write_text(
            "[ca]\ndefault_ca = this\n"
            f"[this]\ndir = {self.directory}\ndatabase = $dir/index.txt\nnew_certs_dir = $dir/issued\n"
            f"serial = $dir/serial\ncrlnumber = $dir/crlnumber\ncertificate = {self.cert}\nprivate_key = {self.key}\n"
            "default_md = sha256\npolicy = loose\nunique_subject = no\ndefault_crl_days = 30\n"
            "copy_extensions = none\n[loose]\ncountryName = optional\norganizationName = optional\n"
            "commonName = supplied\n[crl]\nauthorityKeyIdentifier = keyid\n"
        )
        return config

    def issue(
        self,
        label: str,
        *,
        key_spec: str | None = None,
        key: Path | None = None,
        start: dt.datetime,
        end: dt.datetime,
        extensions: tuple[str, ...] = DSC_EXTENSIONS,
        md: str = "sha256",
        country: str = "VN",
    ) -> tuple[Path, Path]:
        """A certificate for ``label`` (a fresh key of ``key_spec``, or ``key``): (key, PEM certificate)."""
        slug = label.replace(" ", "_")
        if key is None:
            assert key_spec is not None
            key = make_key(self.directory / f"{slug}.key", key_spec)
        csr = self.directory / f"{slug}.csr"
        openssl("req", "-new", "-key", str(key), "-subj", f"/C={country}/O=Foreign Test/CN={label}", "-out", str(csr),
                cwd=self.directory)  # fmt: skip
        ext = self.directory / f"{slug}.ext"
        ext.write_text("[x]\n" + "\n".join(extensions) + "\n")
        cert = self.directory / f"{slug}.pem"
        openssl("ca", "-batch", "-config", str(self._config()), "-in", str(csr), "-out", str(cert), "-notext",
                "-md", md, "-extfile", str(ext), "-extensions", "x", "-startdate", _stamp(start), "-enddate",
                _stamp(end), cwd=self.directory)  # fmt: skip
        return key, cert

    def revoke(self, cert: Path, *, crl_md: str = "sha256") -> bytes:
        """Revoke ``cert``; the new CRL as DER."""
        config = str(self._config())
        openssl("ca", "-config", config, "-revoke", str(cert), cwd=self.directory)
        return self.crl(crl_md=crl_md)

    def crl(self, *, crl_md: str = "sha256") -> bytes:
        out = self.directory / "crl.pem"
        openssl("ca", "-config", str(self._config()), "-gencrl", "-crlexts", "crl", "-md", crl_md, "-out", str(out),
                cwd=self.directory)  # fmt: skip
        return openssl("crl", "-in", str(out), "-outform", "DER", cwd=self.directory)


def make_ca(
    directory: Path,
    name: str,
    *,
    key_spec: str,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    extensions: tuple[str, ...] = CSCA_EXTENSIONS,
    md: str = "sha256",
    country: str = "VN",
) -> Ca:
    """A self-signed CSCA made by ``openssl ca -selfsign`` with its own validity and extensions."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "issued").mkdir(exist_ok=True)
    (directory / "index.txt").write_text("")
    (directory / "serial").write_text("4A01\n")
    (directory / "crlnumber").write_text("1000\n")
    key = make_key(directory / "ca.key", key_spec)
    cert = directory / "ca.pem"
    ca = Ca(directory=directory, name=name, key=key, cert=cert)
    now = dt.datetime.now(dt.UTC)
    csr = directory / "ca.csr"
    openssl("req", "-new", "-key", str(key), "-subj", f"/C={country}/O=Foreign Test/CN={name}", "-out", str(csr),
            cwd=directory)  # fmt: skip
    ext = directory / "ca.ext"
    ext.write_text("[x]\n" + "\n".join(e.replace("keyid", "keyid:always") for e in extensions) + "\n")
    openssl("ca", "-batch", "-selfsign", "-config", str(ca._config()), "-keyfile", str(key), "-in", str(csr),
            "-out", str(cert), "-notext", "-md", md, "-extfile", str(ext), "-extensions", "x",
            "-startdate", _stamp(start or now - dt.timedelta(days=400)),
            "-enddate", _stamp(end or now + dt.timedelta(days=7000)), cwd=directory)  # fmt: skip
    return ca


def link_certificate(old: Ca, new: Ca, *, start: dt.datetime, end: dt.datetime) -> Path:
    """The new CSCA's key and name, certified by the old CSCA (ICAO 9303-12 link certificate), as PEM."""
    _, cert = old.issue(new.name, key=new.key, start=start, end=end, extensions=CSCA_EXTENSIONS, country="VN")
    return cert


# --- data groups --------------------------------------------------------------------------------------------------


def check_digit(text: str) -> str:
    values = {**{str(d): d for d in range(10)}, **{chr(65 + i): 10 + i for i in range(26)}, "<": 0}
    return str(sum(values[c] * (7, 3, 1)[i % 3] for i, c in enumerate(text)) % 10)


def td1_cccd(id_number: str, *, dob: str, sex: str, expiry: str, surname: str, given: str) -> tuple[str, str, str]:
    """TD1 with the CCCD layout (cccd-spec §1.1): document number = last 9 digits, the ID in the optional data."""
    number = id_number[-9:]
    l1 = "IDVNM" + number + check_digit(number) + id_number + "<<" + check_digit(id_number)
    l2_head = dob + check_digit(dob) + sex + expiry + check_digit(expiry) + "VNM" + "<" * 11
    composite = check_digit(l1[5:30] + l2_head[0:7] + l2_head[8:15] + l2_head[18:29])
    l3 = (surname + "<<" + given.replace(" ", "<")).ljust(30, "<")
    return l1, l2_head + composite, l3[:30]


def td3(number: str, *, state: str, dob: str, sex: str, expiry: str, surname: str, given: str) -> tuple[str, str]:
    l1 = ("P<" + state + surname + "<<" + given.replace(" ", "<")).ljust(44, "<")
    doc = number.ljust(9, "<")
    personal = "<" * 14
    head = doc + check_digit(doc) + state + dob + check_digit(dob) + sex + expiry + check_digit(expiry)
    head += personal + "<"  # an empty personal number may take '<' as its check digit
    composite = check_digit(head[0:10] + head[13:20] + head[21:43])
    return l1, head + composite


def dg1(lines: tuple[str, ...]) -> bytes:
    return der(0x61, der(b"\x5f\x1f", "".join(lines).encode("ascii")))


def ef_com(tags: bytes, *, lds: str = "0107", unicode: str = "040000") -> bytes:
    body = der(b"\x5f\x01", lds.encode()) + der(b"\x5f\x36", unicode.encode()) + der(0x5C, tags)
    return der(0x60, body)


def jpeg(width: int = 16, height: int = 20) -> bytes:
    from PIL import Image  # noqa: PLC0415 - only portraits need pillow

    out = io.BytesIO()
    Image.new("RGB", (width, height), (120, 90, 60)).save(out, format="JPEG", quality=50)
    return out.getvalue()


def dg2(image: bytes, *, width: int = 16, height: int = 20, feature_points: int = 0) -> bytes:
    """ICAO 9303-10 DG2 with an ISO/IEC 19794-5:2005 face record (optionally with feature points)."""
    points = b"".join(bytes([0x01, 0x0C, 0x01]) + (10).to_bytes(2, "big") + (12).to_bytes(2, "big") + b"\x00"
                      for _ in range(feature_points))  # fmt: skip
    image_info = bytes([0x01, 0x00]) + width.to_bytes(2, "big") + height.to_bytes(2, "big") + bytes([0x01, 0x02])
    image_info += bytes(4)
    facial = bytes([0x02, 0x00, 0x00, 0x00, 0x00, 0x00]) + bytes(2) + bytes(6)  # gender F, colours, mask, pose
    block = (20 + len(points) + 12 + len(image)).to_bytes(4, "big") + feature_points.to_bytes(2, "big") + facial
    record_body = block + points + image_info + image
    record = b"FAC\x00010\x00" + (14 + len(record_body)).to_bytes(4, "big") + (1).to_bytes(2, "big") + record_body
    header = der(0xA1, der(0x80, b"\x01\x01") + der(0x81, b"\x02") + der(0x87, b"\x01\x01") + der(0x88, b"\x00\x08"))
    template = der(b"\x7f\x60", header + der(b"\x5f\x2e", record))
    return der(0x75, der(b"\x7f\x61", der(0x02, b"\x01") + template))


def dg15(key: Path) -> bytes:
    return der(0x6F, public_key_der(key))


# DG13 citizens: cccd-spec §4.2 fields, synthetic people only.
CITIZEN: dict[str, str] = {
    "id_number": "079185001234",
    "full_name": "Trần Thị Bích Ngọc",
    "date_of_birth": "03/07/1985",
    "sex": "Nữ",
    "nationality": "Việt Nam",
    "ethnicity": "Kinh",
    "religion": "Phật giáo",
    "place_of_origin": "Phường Bến Thành, Quận 1, Thành phố Hồ Chí Minh",
    "place_of_residence": "12 Đường Lê Lợi, Phường Bến Nghé, Quận 1, Thành phố Hồ Chí Minh",
    "identifying_marks": "Sẹo chấm C:1cm trên đuôi mày phải",
    "date_of_issue": "10/08/2021",
    "date_of_expiry": "03/07/2025",
    "father_name": "Trần Văn Hùng",
    "mother_name": "Phạm Thị Lan",
    "spouse_name": "Đỗ Minh Quân",
    "old_id_number": "025123456",
    "field_16": "A1B2C3D4E5F60718",
}
FIELD_NUMBERS = {
    "id_number": 1,
    "full_name": 2,
    "date_of_birth": 3,
    "sex": 4,
    "nationality": 5,
    "ethnicity": 6,
    "religion": 7,
    "place_of_origin": 8,
    "place_of_residence": 9,
    "identifying_marks": 10,
    "date_of_issue": 11,
    "date_of_expiry": 12,
    "spouse_name": 14,
    "old_id_number": 15,
    "field_16": 16,
}
_PRINTABLE_FIELDS = {1, 3, 11, 15, 16}
StringKind = Literal["utf8", "printable", "bmp", "teletex", "ia5"]
_STRING_TAG = {"utf8": 0x0C, "printable": 0x13, "teletex": 0x14, "ia5": 0x16, "bmp": 0x1E}


def _string(text: str, kind: StringKind) -> bytes:
    codec = {"utf8": "utf-8", "printable": "ascii", "teletex": "latin-1", "ia5": "ascii", "bmp": "utf-16-be"}[kind]
    return der(_STRING_TAG[kind], text.encode(codec))


def dg13_hand(
    citizen: Mapping[str, str] = CITIZEN,
    *,
    parents: Literal["separate", "joint", "flat"] = "separate",
    normal_form: Literal["NFC", "NFD"] = "NFC",
    text_kind: StringKind = "utf8",
    printable_kind: StringKind = "printable",
    omit: frozenset[str] = frozenset(),
    spouse_wrapped: bool = True,
    order: Literal["ascending", "descending"] = "ascending",
    indefinite: bool = False,
) -> bytes:
    """DG13 byte by byte (cccd-spec §4.1 envelope, §4.2 fields). ``parents``: ``separate`` = SEQ{13, SEQ{father},
    SEQ{mother}} (sample cards), ``joint`` = SEQ{13, SEQ{father, mother}}, ``flat`` = SEQ{13, father, mother}."""
    c = {k: unicodedata.normalize(normal_form, v) for k, v in citizen.items()}

    def field_(number: int, *values: bytes) -> bytes:
        return der(0x30, der_int(number) + b"".join(values))

    def value(key: str) -> bytes:
        kind = printable_kind if FIELD_NUMBERS[key] in _PRINTABLE_FIELDS else text_kind
        return _string(c[key], kind)

    fields: dict[int, bytes] = {}
    for key, number in FIELD_NUMBERS.items():
        if key in omit or key not in c:
            continue
        if key == "spouse_name":
            fields[number] = field_(14, der(0x30, value(key)) if spouse_wrapped else value(key))
        else:
            fields[number] = field_(number, value(key))
    if "parents" not in omit:
        father, mother = _string(c["father_name"], text_kind), _string(c["mother_name"], text_kind)
        if parents == "separate":
            fields[13] = field_(13, der(0x30, father), der(0x30, mother))
        elif parents == "joint":
            fields[13] = field_(13, der(0x30, father + mother))
        else:
            fields[13] = field_(13, father, mother)
    numbers = sorted(fields, reverse=order == "descending")
    body = b"".join(fields[n] for n in numbers)
    envelope = der_int(1) + der_oid("1.0.10646.1.0.8") + der(0x31, body)
    if indefinite:
        # BER indefinite lengths on the two constructed wrappers, as some personalisation systems write.
        return b"\x6d\x80\x30\x80" + envelope + b"\x00\x00\x00\x00"
    return der(0x6D, der(0x30, envelope))


class _Field(core.Sequence):
    _fields = [("number", core.Integer), ("value", core.Any, {"optional": True})]  # noqa: RUF012 - asn1crypto API


class _ParentsField(core.Sequence):
    _fields = [("number", core.Integer), ("father", core.Any), ("mother", core.Any)]  # noqa: RUF012


class _Fields(core.SetOf):
    _child_spec = core.Any


class _Dg13Body(core.Sequence):
    _fields = [("version", core.Integer), ("oid", core.ObjectIdentifier), ("fields", _Fields)]  # noqa: RUF012


def dg13_asn1crypto(citizen: Mapping[str, str] = CITIZEN) -> bytes:
    """DG13 built with asn1crypto's generic types (a SET OF, so the fields come out in DER SET order)."""
    items = []
    for key, number in FIELD_NUMBERS.items():
        if key not in citizen:
            continue
        text = citizen[key]
        if number in _PRINTABLE_FIELDS:
            val: core.Asn1Value = core.PrintableString(text)
        elif number == 14:
            val = core.Sequence.load(der(0x30, core.UTF8String(text).dump()))
        else:
            val = core.UTF8String(text)
        items.append(core.Any(_Field({"number": number, "value": val})))
    father = core.Any.load(der(0x30, core.UTF8String(citizen["father_name"]).dump()))
    mother = core.Any.load(der(0x30, core.UTF8String(citizen["mother_name"]).dump()))
    items.append(core.Any(_ParentsField({"number": 13, "father": father, "mother": mother})))
    body = _Dg13Body({"version": 1, "oid": "1.0.10646.1.0.8", "fields": items})
    return core.Asn1Value.load(der(0x6D, body.dump(force=True))).dump()


def dg13_genconf(citizen: Mapping[str, str], *, cwd: Path) -> bytes:
    """DG13 encoded by ``openssl asn1parse -genconf`` (text as UTF8String with the ``FORMAT:UTF8`` modifier)."""
    lines = ["asn1=SEQUENCE:dg13", "[dg13]", "version=INTEGER:1", "oid=OID:1.0.10646.1.0.8", "fields=SET:fields",
             "[fields]"]  # fmt: skip
    sections: list[str] = []
    for key, number in FIELD_NUMBERS.items():
        if key not in citizen or number == 14:
            continue
        lines.append(f"f{number}=SEQUENCE:f{number}")
        kind = "PRINTABLESTRING" if number in _PRINTABLE_FIELDS else "FORMAT:UTF8,UTF8String"
        sections += [f"[f{number}]", f"n=INTEGER:{number}", f"v={kind}:{citizen[key]}"]
    lines += ["f13=SEQUENCE:f13", "f14=SEQUENCE:f14"]
    sections += ["[f13]", "n=INTEGER:13", "father=SEQUENCE:father", "mother=SEQUENCE:mother",
                 "[father]", f"v=FORMAT:UTF8,UTF8String:{citizen['father_name']}",
                 "[mother]", f"v=FORMAT:UTF8,UTF8String:{citizen['mother_name']}",
                 "[f14]", "n=INTEGER:14"]  # fmt: skip
    if "spouse_name" in citizen:
        sections += ["spouse=SEQUENCE:spouse", "[spouse]", f"v=FORMAT:UTF8,UTF8String:{citizen['spouse_name']}"]
    config = cwd / "dg13.cnf"
    config.write_text("\n".join(lines + sections) + "\n", encoding="utf-8")
    out = cwd / "dg13.der"
    openssl("asn1parse", "-genconf", str(config), "-out", str(out), "-noout", cwd=cwd)
    return der(0x6D, out.read_bytes())


# --- LDSSecurityObject --------------------------------------------------------------------------------------------


class _AlgorithmIdentifier(core.Sequence):
    _fields = [("algorithm", core.ObjectIdentifier), ("parameters", core.Any, {"optional": True})]  # noqa: RUF012


class _DataGroupHash(core.Sequence):
    _fields = [("number", core.Integer), ("value", core.OctetString)]  # noqa: RUF012


class _DataGroupHashes(core.SequenceOf):
    _child_spec = _DataGroupHash


class _LdsVersionInfo(core.Sequence):
    _fields = [("lds", core.PrintableString), ("unicode", core.PrintableString)]  # noqa: RUF012


class _LdsSecurityObject(core.Sequence):
    _fields = [  # noqa: RUF012
        ("version", core.Integer),
        ("hash_algorithm", _AlgorithmIdentifier),
        ("hashes", _DataGroupHashes),
        ("lds_version_info", _LdsVersionInfo, {"optional": True}),
    ]


def lds_security_object(
    groups: Mapping[int, bytes],
    *,
    hash_name: str = "sha256",
    version: Literal[0, 1] = 0,
    null_parameters: bool = False,
    lds_version: str = "0108",
    unicode_version: str = "040000",
    hashes: Mapping[int, bytes] | None = None,
) -> bytes:
    """The LDSSecurityObject over ``groups`` (DG number → file), with asn1crypto's generic types.

    ``hashes`` overrides the computed hashes (to list a group the dump then changes or lacks).
    """
    digests = dict(hashes) if hashes is not None else {}
    for number, data in groups.items():
        digests.setdefault(number, hashlib.new(hash_name, data).digest())
    algorithm: dict[str, object] = {"algorithm": _HASH_OIDS[hash_name]}
    if null_parameters:
        algorithm["parameters"] = core.Null()
    value: dict[str, object] = {
        "version": version,
        "hash_algorithm": algorithm,
        "hashes": [{"number": n, "value": d} for n, d in sorted(digests.items())],
    }
    if version == 1:
        value["lds_version_info"] = {"lds": lds_version, "unicode": unicode_version}
    return _LdsSecurityObject(value).dump()


# --- the SOD ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignOptions:
    """How ``openssl cms -sign`` (or ``smime``) is called."""

    md: str = "sha256"
    attributes: bool = True
    key_id: bool = False
    certificates: bool = True
    pss: bool = False
    pss_salt: str | None = None
    econtent_type: str | None = ID_LDS_SECURITY_OBJECT
    smime: bool = False
    stream: bool = False
    extra_certs: tuple[Path, ...] = ()


def sign_sod(lds: bytes, *, key: Path, cert: Path, options: SignOptions = SignOptions(), cwd: Path) -> bytes:
    """EF.SOD: tag 77 around the CMS ContentInfo ``openssl cms -sign`` (or ``openssl smime -sign``) made."""
    content = cwd / "lds.bin"
    content.write_bytes(lds)
    out = cwd / "sod.p7"
    args = ["-sign", "-binary", "-nodetach", "-in", str(content), "-signer", str(cert), "-inkey", str(key),
            "-outform", "DER", "-out", str(out), "-md", options.md]  # fmt: skip
    if not options.attributes:
        args.append("-noattr")
    if options.key_id:
        args.append("-keyid")
    if not options.certificates:
        args.append("-nocerts")
    if options.pss:
        args += ["-keyopt", "rsa_padding_mode:pss"]
        if options.pss_salt is not None:
            args += ["-keyopt", f"rsa_pss_saltlen:{options.pss_salt}"]
    if options.stream:
        args.append("-stream")
    if options.extra_certs:
        bundle = cwd / "chain.pem"
        bundle.write_bytes(b"".join(p.read_bytes() for p in options.extra_certs))
        args += ["-certfile", str(bundle)]
    if options.smime:
        openssl("smime", *args, cwd=cwd)
    else:
        if options.econtent_type is not None:
            args += ["-econtent_type", options.econtent_type]
        openssl("cms", *args, cwd=cwd)
    body = out.read_bytes()
    if options.stream:
        # A streamed signature is BER with indefinite lengths; the wrapper follows suit, as NZ passports do.
        return b"\x77\x80" + body + b"\x00\x00"
    return der(0x77, body)


# --- a complete dump ----------------------------------------------------------------------------------------------


@dataclass
class ForeignDump:
    """The files of one chip (keyed by ``COM``, ``SOD``, ``DG1``...), and what made them."""

    files: dict[str, bytes]
    csca: Ca
    dsc_key: Path
    dsc_cert: Path
    work: Path
    citizen: dict[str, str] = field(default_factory=lambda: dict(CITIZEN))

    @property
    def groups(self) -> dict[int, bytes]:
        return {int(name[2:]): data for name, data in self.files.items() if name.startswith("DG")}

    def resign(
        self,
        *,
        options: SignOptions = SignOptions(),
        key: Path | None = None,
        cert: Path | None = None,
        groups: Mapping[int, bytes] | None = None,
        **lds: object,
    ) -> ForeignDump:
        """This dump with the data groups ``groups`` (default: its own) and a new SOD made with ``options``."""
        chosen = dict(groups) if groups is not None else self.groups
        files = {name: data for name, data in self.files.items() if not name.startswith("DG") and name != "SOD"}
        files.update({f"DG{n}": data for n, data in chosen.items()})
        security_object = lds_security_object(chosen, **lds)  # type: ignore[arg-type]
        files["SOD"] = sign_sod(
            security_object, key=key or self.dsc_key, cert=cert or self.dsc_cert, options=options, cwd=self.work
        )
        return ForeignDump(
            files=files,
            csca=self.csca,
            dsc_key=key or self.dsc_key,
            dsc_cert=cert or self.dsc_cert,
            work=self.work,
            citizen=self.citizen,
        )

    def write(self, directory: Path, *, naming: str = "plain") -> Path:
        """Write the files under one tool's naming: ``plain`` (``SOD``, ``DG1``), ``proxmark`` (``EF_SOD.BIN``),
        ``jmrtd`` (``011D.bin``), ``pypassport`` (FIDs without suffix), ``dotted`` (``EF.SOD``), ``padded``
        (``DG01.bin``), ``hex`` (``SOD.hex``, hexadecimal text), ``datagroup`` (``DataGroup1.bin``)."""
        directory.mkdir(parents=True, exist_ok=True)
        for name, data in self.files.items():
            target, payload = _named(name, data, naming)
            (directory / target).write_bytes(payload)
        return directory


def _named(name: str, data: bytes, naming: str) -> tuple[str, bytes]:
    if naming == "plain":
        return name, data
    if naming == "proxmark":
        return f"EF_{name}.BIN", data
    if naming == "jmrtd":
        return f"{FIDS[name]}.bin", data
    if naming == "pypassport":
        return FIDS[name], data
    if naming == "dotted":
        return f"EF.{name}", data
    if naming == "padded":
        return (f"DG{int(name[2:]):02d}.bin" if name.startswith("DG") else f"{name}.bin"), data
    if naming == "hex":
        text = " ".join(data[i : i + 16].hex().upper() for i in range(0, len(data), 16))
        return f"{name}.hex", (text + "\n").encode()
    if naming == "datagroup":
        return (f"DataGroup{name[2:]}.bin" if name.startswith("DG") else f"EF_{name}.bin"), data
    raise ValueError(naming)


def build(
    work: Path,
    *,
    csca: Ca | None = None,
    csca_key: str = "ec-explicit:brainpoolP384r1",
    dsc_key: str = "ec:brainpoolP256r1",
    dsc_start: dt.datetime | None = None,
    dsc_end: dt.datetime | None = None,
    dsc_extensions: tuple[str, ...] = DSC_EXTENSIONS,
    options: SignOptions = SignOptions(),
    dg13: bytes | None = None,
    with_dg2: bool = True,
    aa_key: str = "rsa:1024",
) -> ForeignDump:
    """A complete CCCD dump: COM, DG1 (TD1 CCCD layout), DG2, DG13, DG15 and an SOD signed by OpenSSL."""
    work.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    authority = csca or make_ca(work / "csca", "CSCA Foreign Vietnam", key_spec=csca_key)
    serial = len(list(authority.directory.glob("*.csr")))
    key, cert = authority.issue(
        f"DS Foreign {serial:03d}",
        key_spec=dsc_key,
        start=dsc_start or now - dt.timedelta(days=30),
        end=dsc_end or now + dt.timedelta(days=3650),
        extensions=dsc_extensions,
    )
    aa = make_key(work / f"aa-{serial}.key", aa_key)
    lines = td1_cccd("079185001234", dob="850703", sex="F", expiry="250703", surname="TRAN", given="THI BICH NGOC")
    groups = {1: dg1(lines), 13: dg13 if dg13 is not None else dg13_hand(), 15: dg15(aa)}
    if with_dg2:
        groups[2] = dg2(jpeg())
    tags = bytes(TAGS[f"DG{n}"] for n in sorted(groups))
    files = {"COM": ef_com(tags), **{f"DG{n}": d for n, d in sorted(groups.items())}}
    files["SOD"] = sign_sod(lds_security_object(groups), key=key, cert=cert, options=options, cwd=work)
    return ForeignDump(files=files, csca=authority, dsc_key=key, dsc_cert=cert, work=work)
