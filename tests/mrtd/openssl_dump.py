"""A CCCD chip dump made without any encoder of ours: OpenSSL for keys, certificates, CRLs, the LDSSecurityObject
(``asn1parse -genconf``) and the CMS signature (``cms -sign``); data groups assembled byte by byte from the
layouts in cccd-spec §1 and §4 (DG13 in both field-13 layouts) and ICAO 9303-10 / ISO/IEC 19794-5.

Used by the chip-core tests and by the ``cccd card verify`` tests (loaded there by file path).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import shutil
import subprocess
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from mrtd._files import FileId

OPENSSL = shutil.which("openssl")

# The synthetic citizen of cccd-spec §1.3.
MRZ_LINES = ("IDVNM0900123450001090012345<<1", "9001158M3001156VNM<<<<<<<<<<<8", "NGUYEN<<VAN<AN<<<<<<<<<<<<<<<<")
CITIZEN = {
    "id_number": "001090012345",
    "full_name": "Nguyễn Văn An",
    "date_of_birth": "15/01/1990",
    "sex": "Nam",
    "nationality": "Việt Nam",
    "ethnicity": "Kinh",
    "religion": "Không",
    "place_of_origin": "Xã Đông Anh, Huyện Đông Anh, Hà Nội",
    "place_of_residence": "Số 1 Phố Tràng Tiền, Phường Tràng Tiền, Quận Hoàn Kiếm, Hà Nội",
    "identifying_marks": "Nốt ruồi C:2cm trên trước đuôi mắt trái",
    "date_of_issue": "20/04/2021",
    "date_of_expiry": "15/01/2030",
    "father_name": "Nguyễn Văn Bình",
    "mother_name": "Trần Thị Cúc",
    "spouse_name": "Lê Thị Dung",
    "old_id_number": "012345678",
    "field_16": "0123456789ABCDEF",
}


def _length(n: int, *, long_form: bool = False) -> bytes:
    if n < 0x80 and not long_form:
        return bytes([n])
    if n < 0x100 and not long_form:
        return bytes([0x81, n])
    return bytes([0x82]) + n.to_bytes(2, "big")


def tlv(tag: bytes | int, body: bytes, *, long_form: bool = False) -> bytes:
    """A BER-TLV written out by hand (tag bytes as given, definite length)."""
    tag_bytes = bytes([tag]) if isinstance(tag, int) else tag
    return tag_bytes + _length(len(body), long_form=long_form) + body


def _utf8(text: str) -> bytes:
    return tlv(0x0C, text.encode("utf-8"))


def _printable(text: str) -> bytes:
    return tlv(0x13, text.encode("ascii"))


def _field(number: int, *values: bytes) -> bytes:
    return tlv(0x30, bytes([0x02, 0x01, number]) + b"".join(values))


def dg13_bytes(
    citizen: dict[str, str] | None = None,
    *,
    parents_layout: str = "separate",
    normalisation: Literal["NFC", "NFD"] = "NFC",
    with_spouse: bool = True,
    with_old_id: bool = True,
    field_order: tuple[int, ...] | None = None,
) -> bytes:
    """DG13 as cccd-spec §4: ``6D 82 LLLL 30 82 LLLL 02 01 01 06 06 28D316010008 31 82 LLLL`` + the fields.

    ``parents_layout``: ``separate`` = SEQ { 13, SEQ { father }, SEQ { mother } } (sample cards), ``joint`` =
    SEQ { 13, SEQ { father, mother } } (the other public decoder).
    """
    c = dict(citizen or CITIZEN)

    def text(key: str) -> bytes:
        return _utf8(unicodedata.normalize(normalisation, c[key]))

    if parents_layout == "separate":
        parents = _field(13, tlv(0x30, text("father_name")), tlv(0x30, text("mother_name")))
    else:
        parents = _field(13, tlv(0x30, text("father_name") + text("mother_name")))
    fields = {
        1: _field(1, _printable(c["id_number"])),
        2: _field(2, text("full_name")),
        3: _field(3, _printable(c["date_of_birth"])),
        4: _field(4, text("sex")),
        5: _field(5, text("nationality")),
        6: _field(6, text("ethnicity")),
        7: _field(7, text("religion")),
        8: _field(8, text("place_of_origin")),
        9: _field(9, text("place_of_residence")),
        10: _field(10, text("identifying_marks")),
        11: _field(11, _printable(c["date_of_issue"])),
        12: _field(12, text("date_of_expiry")),
        13: parents,
        14: _field(14, tlv(0x30, text("spouse_name"))) if with_spouse else _field(14),
        15: _field(15, _printable(c["old_id_number"])),
        16: _field(16, _printable(c["field_16"])),
    }
    if not with_old_id:
        del fields[15]
    order = field_order or tuple(fields)
    body = b"".join(fields[n] for n in order if n in fields)
    envelope = bytes.fromhex("020101" + "060628D316010008") + tlv(0x31, body, long_form=True)
    return tlv(0x6D, tlv(0x30, envelope, long_form=True), long_form=True)


def dg1_bytes(lines: tuple[str, ...] = MRZ_LINES) -> bytes:
    """``61 5D 5F1F 5A`` + the 90 MRZ characters (cccd-spec §3)."""
    return tlv(0x61, tlv(b"\x5f\x1f", "".join(lines).encode("ascii")))


def ef_com_bytes() -> bytes:
    """EF.COM of cccd-spec §3: LDS 1.7, Unicode 4.0.0, DG1, DG2, DG3, DG13, DG15, DG14."""
    return bytes.fromhex("6018" + "5F0104" + b"0107".hex() + "5F3606" + b"040000".hex() + "5C06" + "6175636D6F6E")


def jpeg_bytes(width: int = 24, height: int = 32) -> bytes:
    from PIL import Image  # noqa: PLC0415 - only the DG2 tests need pillow

    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 170, 150)).save(out, format="JPEG")
    return out.getvalue()


def face_record(image: bytes, *, width: int, height: int, data_type: int = 0, gender: int = 1) -> bytes:
    """ISO/IEC 19794-5:2005 face record: header, facial information (20 B), no feature points, image info (12 B)."""
    facial_info_and_image = (
        (20 + 12 + len(image)).to_bytes(4, "big")  # facial record data length
        + (0).to_bytes(2, "big")  # feature points
        + bytes([gender, 0x01, 0x01])  # gender, eye colour (black), hair colour (black)
        + bytes(3)  # property mask
        + (0).to_bytes(2, "big")  # expression
        + bytes(3)  # pose angles
        + bytes(3)  # pose angle uncertainty
        + bytes([0x01, data_type])  # face image type (full frontal), image data type
        + width.to_bytes(2, "big")
        + height.to_bytes(2, "big")
        + bytes([0x01, 0x02])  # colour space (24-bit RGB), source type (digital still)
        + (0).to_bytes(2, "big")  # device type
        + (0).to_bytes(2, "big")  # quality
        + image
    )
    header = b"FAC\x00" + b"010\x00" + (14 + len(facial_info_and_image)).to_bytes(4, "big") + (1).to_bytes(2, "big")
    return header + facial_info_and_image


def dg2_bytes(record: bytes) -> bytes:
    """``75 { 7F61 { 02 01 01, 7F60 { A1 { header }, 5F2E record } } }`` (ICAO 9303-10 §4.7.2)."""
    header = tlv(0x80, b"\x01\x01") + tlv(0x81, b"\x02") + tlv(0x87, b"\x01\x01") + tlv(0x88, b"\x00\x08")
    template = tlv(b"\x7f\x60", tlv(0xA1, header) + tlv(b"\x5f\x2e", record))
    return tlv(0x75, tlv(b"\x7f\x61", tlv(0x02, b"\x01") + template))


def run(*args: str, cwd: Path, stdin: bytes | None = None) -> bytes:
    assert OPENSSL is not None, "the openssl command is needed to build this dump"
    result = subprocess.run([OPENSSL, *args], cwd=cwd, input=stdin, capture_output=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed: {result.stderr.decode(errors='replace')}")
    return result.stdout


def _stamp(when: dt.datetime) -> str:
    return when.strftime("%Y%m%d%H%M%SZ")


@dataclass
class Authority:
    """A CSCA made with ``openssl req -x509`` and run as an ``openssl ca`` (database, serials, CRLs)."""

    directory: Path
    name: str
    key: Path
    cert: Path

    @property
    def cert_der(self) -> bytes:
        return run("x509", "-in", str(self.cert), "-outform", "DER", cwd=self.directory)

    def issue_dsc(
        self,
        label: str,
        *,
        key_spec: str,
        start: dt.datetime,
        end: dt.datetime,
        key_usage: str | None = "digitalSignature",
        extended_key_usage: str | None = None,
    ) -> tuple[Path, Path]:
        key = self.directory / f"{label}.key"
        _generate_key(key, key_spec, cwd=self.directory)
        csr = self.directory / f"{label}.csr"
        run("req", "-new", "-key", str(key), "-subj", f"/C=VN/O=Test Government/CN={label}", "-out", str(csr),
            cwd=self.directory)  # fmt: skip
        ext = self.directory / f"{label}.ext"
        usage = f"keyUsage = critical, {key_usage}\n" if key_usage else ""
        usage += f"extendedKeyUsage = critical, {extended_key_usage}\n" if extended_key_usage else ""
        ext.write_text(f"[dsc]\n{usage}subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n")
        cert = self.directory / f"{label}.pem"
        run("ca", "-batch", "-config", str(self.directory / "ca.cnf"), "-in", str(csr), "-out", str(cert),
            "-extfile", str(ext), "-extensions", "dsc", "-startdate", _stamp(start), "-enddate", _stamp(end),
            "-notext", cwd=self.directory)  # fmt: skip
        return key, cert

    def revoke(self, cert: Path) -> bytes:
        """Revoke ``cert`` and return a fresh DER CRL."""
        config = str(self.directory / "ca.cnf")
        run("ca", "-config", config, "-revoke", str(cert), cwd=self.directory)
        crl = self.directory / "crl.pem"
        run("ca", "-config", config, "-gencrl", "-crlexts", "crl_ext", "-out", str(crl), cwd=self.directory)
        return run("crl", "-in", str(crl), "-outform", "DER", cwd=self.directory)


def _generate_key(path: Path, spec: str, *, cwd: Path) -> None:
    """``spec``: ``ec:<curve>`` (named), ``ec-explicit:<curve>`` (explicit parameters) or ``rsa:<bits>``."""
    kind, _, param = spec.partition(":")
    if kind == "rsa":
        run("genpkey", "-algorithm", "RSA", "-pkeyopt", f"rsa_keygen_bits:{param}", "-out", str(path), cwd=cwd)
    else:
        encoding = "explicit" if kind == "ec-explicit" else "named_curve"
        run("genpkey", "-algorithm", "EC", "-pkeyopt", f"ec_paramgen_curve:{param}",
            "-pkeyopt", f"ec_param_enc:{encoding}", "-out", str(path), cwd=cwd)  # fmt: skip
    path.chmod(0o600)


def make_authority(directory: Path, name: str, *, key_spec: str) -> Authority:
    directory.mkdir(parents=True, exist_ok=True)
    key = directory / "csca.key"
    _generate_key(key, key_spec, cwd=directory)
    cert = directory / "csca.pem"
    run("req", "-x509", "-new", "-key", str(key), "-subj", f"/C=VN/O=Test Government/CN={name}", "-days", "7300",
        "-sha256", "-addext", "basicConstraints=critical,CA:TRUE,pathlen:0",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign", "-addext", "subjectKeyIdentifier=hash",
        "-out", str(cert), cwd=directory)  # fmt: skip
    (directory / "index.txt").write_text("")
    (directory / "serial").write_text("1001\n")
    (directory / "crlnumber").write_text("01\n")
    (directory / "certs").mkdir(exist_ok=True)
    (directory / "ca.cnf").write_text(
        "[ca]\ndefault_ca = csca\n"
        f"[csca]\ndir = {directory}\ndatabase = $dir/index.txt\nnew_certs_dir = $dir/certs\nserial = $dir/serial\n"
        f"crlnumber = $dir/crlnumber\ncertificate = {cert}\nprivate_key = {key}\ndefault_md = sha256\n"
        "policy = any\nunique_subject = no\ndefault_crl_days = 30\n"
        "[any]\ncountryName = optional\norganizationName = optional\ncommonName = supplied\n"
        "[crl_ext]\nauthorityKeyIdentifier = keyid\n"
    )
    return Authority(directory=directory, name=name, key=key, cert=cert)


def lds_security_object(files: dict[FileId, bytes], *, hash_name: str = "sha256", cwd: Path) -> bytes:
    """LDSSecurityObject v0 encoded by ``openssl asn1parse -genconf`` from hashes of ``files``."""
    lines = ["asn1=SEQUENCE:lds", "[lds]", "version=INTEGER:0", "hashAlgorithm=SEQUENCE:alg",
             "hashes=SEQUENCE:hashes", "[alg]", f"algorithm=OID:{hash_name}", "[hashes]"]  # fmt: skip
    groups = sorted((f.dg_number, data) for f, data in files.items() if f.dg_number is not None)
    lines += [f"dg{n}=SEQUENCE:dg{n}" for n, _ in groups]
    for n, data in groups:
        digest = hashlib.new(hash_name, data).hexdigest().upper()
        lines += [f"[dg{n}]", f"number=INTEGER:{n}", f"hash=FORMAT:HEX,OCTETSTRING:{digest}"]
    config = cwd / "lds.cnf"
    config.write_text("\n".join(lines) + "\n")
    out = cwd / "lds.der"
    run("asn1parse", "-genconf", str(config), "-out", str(out), "-noout", cwd=cwd)
    return out.read_bytes()


def sign_sod(lds: bytes, *, key: Path, cert: Path, cwd: Path, extra: tuple[str, ...] = ()) -> bytes:
    """EF.SOD: ``openssl cms -sign -nodetach -binary -econtent_type 2.23.136.1.1.1`` wrapped in tag 77."""
    content = cwd / "lds-content.der"
    content.write_bytes(lds)
    out = cwd / "sod.cms"
    run("cms", "-sign", "-nodetach", "-binary", "-econtent_type", "2.23.136.1.1.1", "-in", str(content),
        "-signer", str(cert), "-inkey", str(key), "-md", "sha256", "-nosmimecap", "-outform", "DER",
        "-out", str(out), *extra, cwd=cwd)  # fmt: skip
    return tlv(0x77, out.read_bytes())


def ecdsa_plain(signature_der: bytes, size: int) -> bytes:
    """r ‖ s from an OpenSSL DER ECDSA signature (parsed by hand: SEQUENCE { INTEGER r, INTEGER s })."""
    assert signature_der[0] == 0x30
    pos = 2 if signature_der[1] < 0x80 else 3
    values = []
    for _ in range(2):
        assert signature_der[pos] == 0x02
        length = signature_der[pos + 1]
        values.append(int.from_bytes(signature_der[pos + 2 : pos + 2 + length], "big"))
        pos += 2 + length
    return b"".join(v.to_bytes(size, "big") for v in values)


def dg14_bytes(ca_point: bytes, *, cwd: Path) -> bytes:
    """DG14 by ``asn1parse -genconf``: ChipAuthenticationPublicKeyInfo (brainpoolP256r1 key), ChipAuthenticationInfo
    (id-CA-ECDH-AES-CBC-CMAC-128) and ActiveAuthenticationInfo (ecdsa-with-SHA256), as cccd-spec §2.1 announces."""
    config = cwd / "dg14.cnf"
    config.write_text(
        "asn1=SET:infos\n[infos]\npk=SEQUENCE:pk\nca=SEQUENCE:ca\naa=SEQUENCE:aa\n"
        "[pk]\noid=OID:0.4.0.127.0.7.2.2.1.2\nkey=SEQUENCE:spki\n"
        f"[spki]\nalg=SEQUENCE:spkialg\npoint=FORMAT:HEX,BITSTRING:{ca_point.hex()}\n"
        "[spkialg]\nkind=OID:id-ecPublicKey\ncurve=OID:brainpoolP256r1\n"
        "[ca]\noid=OID:0.4.0.127.0.7.2.2.3.2.2\nversion=INTEGER:1\n"
        "[aa]\noid=OID:2.23.136.1.1.5\nversion=INTEGER:1\nalg=OID:ecdsa-with-SHA256\n"
    )
    out = cwd / "dg14.der"
    run("asn1parse", "-genconf", str(config), "-out", str(out), "-noout", cwd=cwd)
    return tlv(0x6E, out.read_bytes())


@dataclass
class Dump:
    """The files of one chip, with the PKI that signed it and the AA exchange."""

    files: dict[FileId, bytes]
    csca: Authority
    dsc_key: Path
    dsc_cert: Path
    challenge: bytes
    aa_signature: bytes
    work: Path
    extra: dict[str, bytes] = field(default_factory=dict)

    def write(self, directory: Path, *, names: dict[FileId, str] | None = None, with_aa: bool = True) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        for file, data in self.files.items():
            name = (names or {}).get(file, file.label)
            (directory / name).write_bytes(data)
        if with_aa:
            (directory / "AA.challenge").write_bytes(self.challenge)
            (directory / "AA.signature").write_bytes(self.aa_signature)
        return directory


def build_dump(
    work: Path,
    *,
    csca_key: str = "ec-explicit:brainpoolP256r1",
    dsc_key: str = "ec:prime256v1",
    parents_layout: str = "separate",
    dsc_start: dt.datetime | None = None,
    dsc_end: dt.datetime | None = None,
    sign_extra: tuple[str, ...] = (),
    authority: Authority | None = None,
) -> Dump:
    """Build a complete CCCD dump in ``work`` (keys written there, 0600)."""
    work.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    csca = authority or make_authority(work / "csca", "CSCA Test Vietnam", key_spec=csca_key)
    key, cert = csca.issue_dsc(
        f"Document Signer {len(list(csca.directory.glob('*.csr'))) + 1:02d}",
        key_spec=dsc_key,
        start=dsc_start or now - dt.timedelta(days=1),
        end=dsc_end or now + dt.timedelta(days=3650),
    )
    aa_key = work / "aa.key"
    _generate_key(aa_key, "ec:brainpoolP256r1", cwd=work)
    aa_spki = run("pkey", "-in", str(aa_key), "-pubout", "-outform", "DER", cwd=work)
    ca_key = work / "ca.key"
    _generate_key(ca_key, "ec:brainpoolP256r1", cwd=work)
    ca_point = run("pkey", "-in", str(ca_key), "-pubout", "-outform", "DER", cwd=work)[-65:]
    image = jpeg_bytes()
    files = {
        FileId.COM: ef_com_bytes(),
        FileId.DG1: dg1_bytes(),
        FileId.DG2: dg2_bytes(face_record(image, width=24, height=32)),
        FileId.DG13: dg13_bytes(parents_layout=parents_layout),
        FileId.DG14: dg14_bytes(ca_point, cwd=work),
        FileId.DG15: tlv(0x6F, aa_spki),
        FileId.CARD_ACCESS: bytes.fromhex(
            "3134300d060804007f0007020202020101300f060a04007f000702020302020201013012060a04007f0007020204020202010202010d"
        ),
    }
    lds = lds_security_object({f: d for f, d in files.items() if f.dg_number is not None}, cwd=work)
    files[FileId.SOD] = sign_sod(lds, key=key, cert=cert, cwd=work, extra=sign_extra)
    challenge = bytes.fromhex("47E4EE7F211F7326")
    (work / "challenge.bin").write_bytes(challenge)
    signature_der = run("dgst", "-sha256", "-sign", str(aa_key), str(work / "challenge.bin"), cwd=work)
    return Dump(
        files=files,
        csca=csca,
        dsc_key=key,
        dsc_cert=cert,
        challenge=challenge,
        aa_signature=ecdsa_plain(signature_der, 32),
        work=work,
    )
