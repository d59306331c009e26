"""The outcome of one verification step: pass, fail or skipped, with a stable machine key and a sentence for people."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class CheckStatus(enum.Enum):
    PASS = "pass"  # noqa: S105 - a check outcome, not a password
    FAIL = "fail"
    SKIPPED = "skipped"


@dataclass(frozen=True, slots=True)
class Check:
    """``reason`` is a stable key (``dg_hash_mismatch:DG13``, ``csca_not_found``); ``message`` explains it.

    ``reasons`` lists every key when a step found several problems (two altered data groups, say); ``reason`` is the
    first of them.
    """

    status: CheckStatus
    reason: str
    message: str
    reasons: tuple[str, ...] = ()

    @classmethod
    def passed(cls, reason: str, message: str) -> Check:
        return cls(CheckStatus.PASS, reason, message, (reason,))

    @classmethod
    def failed(cls, reason: str, message: str, *, more: tuple[str, ...] = ()) -> Check:
        return cls(CheckStatus.FAIL, reason, message, (reason, *more))

    @classmethod
    def skipped(cls, reason: str, message: str) -> Check:
        return cls(CheckStatus.SKIPPED, reason, message, (reason,))

    @property
    def ok(self) -> bool:
        return self.status is CheckStatus.PASS

    @property
    def is_failure(self) -> bool:
        return self.status is CheckStatus.FAIL

    def to_json(self) -> dict[str, str]:
        return {"status": self.status.value, "reason": self.reason, "message": self.message}
