"""Topic names and the channel table."""

from __future__ import annotations

import pytest
from wirekit import DEVICE

import wire
from wire import Channel, DecodeError, Direction, Reason


def test_topics_match_the_architecture() -> None:
    assert [wire.topic_for(DEVICE, c) for c in Channel] == [
        f"cccd/v1/{DEVICE}/result",
        f"cccd/v1/{DEVICE}/ack",
        f"cccd/v1/{DEVICE}/heartbeat",
        f"cccd/v1/{DEVICE}/state",
        f"cccd/v1/{DEVICE}/config",
        f"cccd/v1/{DEVICE}/config/reported",
        f"cccd/v1/{DEVICE}/trust",
        f"cccd/v1/{DEVICE}/cmd",
        f"cccd/v1/{DEVICE}/cmd/reply",
    ]
    assert {c for c in Channel if c.retained} == {Channel.STATE, Channel.CONFIG}
    assert {c for c in Channel if c.direction is Direction.DOWNLINK} == {
        Channel.ACK,
        Channel.CONFIG,
        Channel.TRUST,
        Channel.COMMAND,
    }


def test_parse_topic_round_trips() -> None:
    for channel in Channel:
        assert wire.parse_topic(wire.topic_for(DEVICE, channel)) == (DEVICE, channel)


@pytest.mark.parametrize(
    "topic",
    [
        "cccd/v2/t-abc/result",
        "cccd/v1/t-abc/results",
        "cccd/v1/t-abc/result/extra",
        "cccd/v1/+/result",
        "cccd/v1/#",
        "cccd/v1//result",
        "cccd/v1/T-ABC/result",
        "cccd/v1/t-abc",
    ],
)
def test_foreign_topics_are_refused(topic: str) -> None:
    with pytest.raises(DecodeError) as info:
        wire.parse_topic(topic)
    assert info.value.reason is Reason.BAD_TOPIC


@pytest.mark.parametrize("device_id", ["", "a", "t_abc", "t-abc-", "-abc", "t abc", "t-ab/c", "t+", "x" * 65])
def test_invalid_device_ids(device_id: str) -> None:
    assert not wire.is_device_id(device_id)
    with pytest.raises(DecodeError):
        wire.topic_for(device_id, Channel.RESULT)


def test_subscriptions() -> None:
    assert wire.device_subscriptions(DEVICE) == (
        f"cccd/v1/{DEVICE}/ack",
        f"cccd/v1/{DEVICE}/config",
        f"cccd/v1/{DEVICE}/trust",
        f"cccd/v1/{DEVICE}/cmd",
    )
    assert wire.server_subscriptions()[0] == "$share/ingest/cccd/v1/+/result"
    assert "cccd/v1/+/cmd/reply" in wire.server_subscriptions(share_group=None)
