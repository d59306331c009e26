"""Enrollment tokens: one-time, expiring, bound to a site, stored hashed; revocation state and the deny list."""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
from pathlib import Path

import pytest
from provkit import PASSPHRASE, Clock, new_fleet, token

from provisioning import (
    DenyList,
    DeviceNotFound,
    DeviceState,
    EnvironmentProblem,
    Fleet,
    InvalidRequest,
    RenewalRefused,
    Site,
    TokenRejected,
    TokenRejection,
    make_csr,
    token_hash,
)
from provisioning._files import write_atomic
from provisioning._pki import generate_key


def _enroll(fleet: Fleet, secret: str) -> str:
    return fleet.enroll(fleet.unlock(PASSPHRASE), token=secret, csr_pem=make_csr(generate_key())).device_id


def test_a_token_works_exactly_once(fleet: Fleet) -> None:
    secret = token(fleet)
    device_id = _enroll(fleet, secret)
    with pytest.raises(TokenRejected) as info:
        _enroll(fleet, secret)
    assert info.value.reason is TokenRejection.USED
    assert [d.device_id for d in fleet.store.devices()] == [device_id]
    used = fleet.store.tokens()[0]
    assert used.device_id == device_id
    assert used.used_at is not None


def test_the_terminal_that_used_a_token_can_fetch_its_answer_again(fleet: Fleet, clock: Clock) -> None:
    # The first answer may be lost on a weak link after the fleet spent the token. The token stays spent (enrolling
    # with it again is refused, whatever the key), but the terminal that holds the key can ask for the answer.
    authority = fleet.unlock(PASSPHRASE)
    secret, key = token(fleet, "79/760/team-3"), generate_key()
    with pytest.raises(TokenRejected) as early:
        fleet.recover_enrollment(authority, token=secret, csr_pem=make_csr(key))
    assert early.value.reason is TokenRejection.UNUSED
    first = fleet.enroll(authority, token=secret, csr_pem=make_csr(key))
    with pytest.raises(TokenRejected) as again:
        fleet.enroll(authority, token=secret, csr_pem=make_csr(key))
    assert again.value.reason is TokenRejection.USED
    clock.advance(dt.timedelta(hours=2))  # past the token's own expiry, within a day of its use
    recovered = fleet.recover_enrollment(authority, token=secret, csr_pem=make_csr(key))
    assert (recovered.device_id, recovered.site, recovered.certificate) == (
        first.device_id,
        first.site,
        first.certificate,
    )
    assert [d.device_id for d in fleet.store.devices()] == [first.device_id]
    with pytest.raises(TokenRejected) as other_key:
        fleet.recover_enrollment(authority, token=secret, csr_pem=make_csr(generate_key()))
    assert other_key.value.reason is TokenRejection.USED
    with pytest.raises(TokenRejected):
        fleet.recover_enrollment(authority, token="cccd-enroll-made-up", csr_pem=make_csr(key))
    clock.advance(dt.timedelta(hours=23))
    with pytest.raises(TokenRejected):
        fleet.recover_enrollment(authority, token=secret, csr_pem=make_csr(key))
    revoked_secret, revoked_key = token(fleet), generate_key()
    revoked = fleet.enroll(authority, token=revoked_secret, csr_pem=make_csr(revoked_key))
    fleet.revoke(revoked.device_id)
    with pytest.raises(TokenRejected):
        fleet.recover_enrollment(authority, token=revoked_secret, csr_pem=make_csr(revoked_key))


def test_tokens_expire(fleet: Fleet, clock: Clock) -> None:
    secret = token(fleet, ttl=dt.timedelta(minutes=10))
    clock.advance(dt.timedelta(minutes=10))
    with pytest.raises(TokenRejected) as info:
        _enroll(fleet, secret)
    assert info.value.reason is TokenRejection.EXPIRED
    assert fleet.store.devices() == []


def test_unknown_tokens_are_refused(fleet: Fleet) -> None:
    with pytest.raises(TokenRejected) as info:
        _enroll(fleet, "cccd-enroll-made-up")
    assert info.value.reason is TokenRejection.UNKNOWN


def test_token_lifetime_bounds(fleet: Fleet) -> None:
    with pytest.raises(InvalidRequest):
        fleet.create_token(Site.parse("79/760"), ttl=dt.timedelta(seconds=5))
    with pytest.raises(InvalidRequest):
        fleet.create_token(Site.parse("79/760"), ttl=dt.timedelta(days=31))


def test_the_site_travels_from_token_to_device_and_certificate(fleet: Fleet) -> None:
    grant = fleet.enroll(
        fleet.unlock(PASSPHRASE), token=token(fleet, "01/00004/doi-2"), csr_pem=make_csr(generate_key())
    )
    assert grant.site == "01/00004/doi-2"
    record = fleet.store.device(grant.device_id)
    assert record is not None
    assert record.site == "01/00004/doi-2"
    assert "OU=01/00004/doi-2" in grant.certificate.subject.rfc4514_string()


def test_a_token_for_another_site_is_refused_and_stays_usable(fleet: Fleet) -> None:
    """The terminal may say where it is being installed; a token made for another site then issues nothing. The
    token is not spent: the mistake is whose hands it reached, and the right installer can still use it."""
    authority = fleet.unlock(PASSPHRASE)
    secret = token(fleet, "79/760/team-3")
    for elsewhere in ("01/00004", "79/760", "79/760/team-4"):
        with pytest.raises(TokenRejected) as info:
            fleet.enroll(authority, token=secret, csr_pem=make_csr(generate_key()), site=Site.parse(elsewhere))
        assert info.value.reason is TokenRejection.WRONG_SITE
    assert fleet.store.devices() == []
    assert fleet.store.tokens()[0].used_at is None
    grant = fleet.enroll(authority, token=secret, csr_pem=make_csr(generate_key()), site=Site.parse("79/760/team-3"))
    assert grant.site == "79/760/team-3"
    with pytest.raises(TokenRejected) as used:
        fleet.enroll(authority, token=secret, csr_pem=make_csr(generate_key()), site=Site.parse("01/00004"))
    assert used.value.reason is TokenRejection.USED  # a spent token says so, whatever site is asked for


def test_tokens_are_stored_only_as_hashes(fleet: Fleet) -> None:
    secret = token(fleet)
    raw = b"".join(p.read_bytes() for p in fleet.directory.glob("fleet.db*"))
    assert secret.encode() not in raw
    assert token_hash(secret).encode() in raw
    assert fleet.store.tokens()[0].hash_prefix == token_hash(secret)[:12]


def test_racing_terminals_cannot_both_use_a_token(fleet: Fleet) -> None:
    secret = token(fleet)
    authority = fleet.unlock(PASSPHRASE)
    outcomes: list[str] = []

    def attempt() -> None:
        try:
            fleet.enroll(authority, token=secret, csr_pem=make_csr(generate_key()))
            outcomes.append("enrolled")
        except TokenRejected as exc:
            outcomes.append(exc.reason.value)

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["enrolled"] + ["used"] * 7
    assert len(fleet.store.devices()) == 1


@pytest.mark.parametrize("text", ["79", "79/760/team/x", "79//x", "79/76 0", "79/760/" + "t" * 40, "79/../x"])
def test_sites_are_validated(text: str) -> None:
    with pytest.raises(InvalidRequest):
        Site.parse(text)


def test_site_round_trip() -> None:
    assert str(Site.parse("79/26734/team-3")) == "79/26734/team-3"
    assert Site.parse("79/26734") == Site("79", "26734", None)


def test_revocation_marks_every_certificate_and_feeds_the_deny_list(fleet: Fleet) -> None:
    authority = fleet.unlock(PASSPHRASE)
    grant = fleet.enroll(authority, token=token(fleet), csr_pem=make_csr(generate_key()))
    renewed = fleet.renew(authority, current=grant.certificate, csr_pem=make_csr(generate_key()))
    other = _enroll(fleet, token(fleet))
    deny = DenyList(fleet.denylist_path)
    assert not deny.is_denied(device_id=grant.device_id)
    serials = fleet.revoke(grant.device_id, reason="stolen")
    assert set(serials) == {grant.certificate.serial_number, renewed.certificate.serial_number}
    assert deny.is_denied(device_id=grant.device_id)
    assert deny.is_denied(serial=renewed.certificate.serial_number)
    assert not deny.is_denied(device_id=other)
    document = json.loads(fleet.denylist_path.read_text())
    assert document["devices"] == [grant.device_id]
    record = fleet.store.device(grant.device_id)
    assert record is not None
    assert record.state is DeviceState.REVOKED
    crl = fleet.write_crl(authority)
    for serial in serials:
        assert crl.get_revoked_certificate_by_serial_number(serial) is not None
    with pytest.raises(RenewalRefused):
        fleet.renew(authority, current=renewed.certificate, csr_pem=make_csr(generate_key()))
    with pytest.raises(DeviceNotFound):
        fleet.revoke("t-doesnotexist0000")


def test_the_deny_list_sees_every_replacement_and_fails_closed(fleet: Fleet) -> None:
    first = _enroll(fleet, token(fleet))
    second = _enroll(fleet, token(fleet))
    deny = DenyList(fleet.denylist_path)
    fleet.revoke(first)
    assert deny.is_denied(device_id=first)
    before = fleet.denylist_path.stat()
    # A replacement of the same size within the same mtime tick (a coarse clock, or a fast second revocation).
    document = json.loads(fleet.denylist_path.read_text())
    document["devices"] = [second]
    write_atomic(fleet.denylist_path, json.dumps(document, indent=2).encode() + b"\n", mode=0o644)
    os.utime(fleet.denylist_path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert fleet.denylist_path.stat().st_size == before.st_size
    assert deny.is_denied(device_id=second)
    assert not deny.is_denied(device_id=first)
    # Missing or unreadable: no answer at all, rather than "not denied" for a revoked terminal.
    for broken in (None, b"{not json", b'{"devices": "t-x"}', b"[]"):
        if broken is None:
            fleet.denylist_path.unlink()
        else:
            fleet.denylist_path.write_bytes(broken)
        with pytest.raises(EnvironmentProblem):
            deny.is_denied(device_id=second)
    fleet.write_denylist()
    assert deny.is_denied(device_id=first)


def test_renewal_refuses_expired_and_foreign_certificates(tmp_path: Path, fleet: Fleet, clock: Clock) -> None:
    authority = fleet.unlock(PASSPHRASE)
    grant = fleet.enroll(authority, token=token(fleet), csr_pem=make_csr(generate_key()))
    other = new_fleet(tmp_path / "other")
    foreign = other.enroll(other.unlock(PASSPHRASE), token=token(other), csr_pem=make_csr(generate_key()))
    with pytest.raises(RenewalRefused, match="not issued"):
        fleet.renew(authority, current=foreign.certificate, csr_pem=make_csr(generate_key()))
    clock.advance(dt.timedelta(days=31))
    with pytest.raises(RenewalRefused, match="expired"):
        fleet.renew(authority, current=grant.certificate, csr_pem=make_csr(generate_key()))


def test_crl_refresh_is_due_before_next_update(fleet: Fleet, clock: Clock) -> None:
    assert not fleet.crl_due()
    clock.advance(dt.timedelta(days=9))
    assert not fleet.crl_due()
    clock.advance(dt.timedelta(days=2))
    assert fleet.crl_due()
    crl = fleet.write_crl(fleet.unlock(PASSPHRASE))
    assert not fleet.crl_due()
    assert crl.next_update_utc - clock.now >= dt.timedelta(days=29)
