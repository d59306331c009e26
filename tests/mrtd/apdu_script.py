"""Test doubles for chip exchanges: a card that replays a script of APDUs, and a random source that replays values."""

from collections.abc import Sequence


class ScriptedCard:
    """A transmit callable that expects exactly the scripted commands, in order, and answers the scripted responses.

    Commands and responses are hex strings; ``None`` as the expected command accepts any command (for cryptograms
    the test cannot know in advance).
    """

    def __init__(self, exchanges: Sequence[tuple[str | None, str]]) -> None:
        self._exchanges = list(exchanges)
        self.sent: list[bytes] = []

    async def __call__(self, command: bytes) -> bytes:
        step = len(self.sent)
        self.sent.append(command)
        assert step < len(self._exchanges), f"unexpected command {step}: {command.hex().upper()}"
        expected, response = self._exchanges[step]
        if expected is not None:
            assert command.hex().upper() == expected.upper().replace(" ", ""), f"command {step} differs"
        return bytes.fromhex(response.replace(" ", ""))

    @property
    def done(self) -> bool:
        return len(self.sent) == len(self._exchanges)


class ReplayRng:
    """Returns the given values in order; the requested lengths must match."""

    def __init__(self, *values: str) -> None:
        self._values = [bytes.fromhex(v) for v in values]
        self.calls = 0

    def __call__(self, length: int) -> bytes:
        assert self.calls < len(self._values), "random source exhausted"
        value = self._values[self.calls]
        self.calls += 1
        assert len(value) == length, f"asked for {length} random bytes, scripted {len(value)}"
        return value
