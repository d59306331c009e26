"""MQTT topics: one namespace per device, ``cccd/v1/{device_id}/{channel}``, and no personal data in any topic.

The channel table here is the single source for who publishes what: the broker ACL that ``provisioning``
generates, the server's subscriptions and the terminal's subscriptions are all derived from it.
"""

from __future__ import annotations

import re
from enum import StrEnum

from wire._errors import DecodeError, Reason

TOPIC_ROOT = "cccd/v1"
# Device ids become an MQTT username and a topic level, so they may not contain '/', '+', '#' or spaces; the
# broker ACL substitutes them into patterns (mosquitto refuses such usernames there anyway).
DEVICE_ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{1,62}[a-z0-9]")
DEFAULT_SHARE_GROUP = "ingest"


class Direction(StrEnum):
    UPLINK = "uplink"  # terminal -> server, signed by the device key
    DOWNLINK = "downlink"  # server -> terminal, signed by the server key


class Channel(StrEnum):
    """The last topic levels, also the ``type`` of the message carried there."""

    RESULT = "result"
    ACK = "ack"
    HEARTBEAT = "heartbeat"
    STATE = "state"
    CONFIG = "config"
    CONFIG_REPORTED = "config/reported"
    TRUST = "trust"
    COMMAND = "cmd"
    COMMAND_REPLY = "cmd/reply"

    @property
    def direction(self) -> Direction:
        return _DIRECTION[self]

    @property
    def retained(self) -> bool:
        """``state`` (presence, with the last will) and ``config`` (desired config) are retained."""
        return self in (Channel.STATE, Channel.CONFIG)

    @property
    def qos(self) -> int:
        # Heartbeats are superseded by the next one; everything else must arrive.
        return 0 if self is Channel.HEARTBEAT else 1


_DIRECTION = {
    Channel.RESULT: Direction.UPLINK,
    Channel.HEARTBEAT: Direction.UPLINK,
    Channel.STATE: Direction.UPLINK,
    Channel.CONFIG_REPORTED: Direction.UPLINK,
    Channel.COMMAND_REPLY: Direction.UPLINK,
    Channel.ACK: Direction.DOWNLINK,
    Channel.CONFIG: Direction.DOWNLINK,
    Channel.TRUST: Direction.DOWNLINK,
    Channel.COMMAND: Direction.DOWNLINK,
}


def is_device_id(value: str) -> bool:
    return DEVICE_ID_PATTERN.fullmatch(value) is not None


def topic_for(device_id: str, channel: Channel) -> str:
    if not is_device_id(device_id):
        raise DecodeError(Reason.BAD_TOPIC, f"{device_id!r} is not a valid device id")
    return f"{TOPIC_ROOT}/{device_id}/{channel.value}"


def parse_topic(topic: str) -> tuple[str, Channel]:
    """Split a concrete topic into ``(device_id, channel)``; anything outside the namespace is refused."""
    prefix = TOPIC_ROOT + "/"
    if not topic.startswith(prefix):
        raise DecodeError(Reason.BAD_TOPIC, f"topic {topic!r} is outside {TOPIC_ROOT}/")
    device_id, _, rest = topic[len(prefix) :].partition("/")
    if not is_device_id(device_id):
        raise DecodeError(Reason.BAD_TOPIC, f"topic {topic!r} has no valid device id")
    try:
        return device_id, Channel(rest)
    except ValueError as exc:
        raise DecodeError(Reason.BAD_TOPIC, f"topic {topic!r} has no known channel") from exc


def channel_filter(channel: Channel) -> str:
    """The filter matching ``channel`` for every device (``cccd/v1/+/result``)."""
    return f"{TOPIC_ROOT}/+/{channel.value}"


def device_subscriptions(device_id: str) -> tuple[str, ...]:
    """What a terminal subscribes to: its own downlink channels."""
    return tuple(topic_for(device_id, c) for c in Channel if c.direction is Direction.DOWNLINK)


def server_subscriptions(*, share_group: str | None = DEFAULT_SHARE_GROUP) -> tuple[str, ...]:
    """What the central server subscribes to: every device's uplink channels, as a shared subscription by default
    so that several server processes split the load (there is no ordering across the group: use ``seq``)."""
    prefix = f"$share/{share_group}/" if share_group else ""
    return tuple(prefix + channel_filter(c) for c in Channel if c.direction is Direction.UPLINK)
