"""Fault modes of the virtual chip: each makes it misbehave the way a forged, damaged or unusual card does."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass


class Fault(enum.StrEnum):
    """What a fault does, and the name the ``--fault`` option takes."""

    WRONG_KEY = "wrong-key"  # the chip opens with other access keys than the printed ones: BAC/PACE give 6300
    CHANGED_DG = "changed-dg"  # DG13 altered after the SOD was signed: a data group hash fails
    FOREIGN_CSCA = "foreign-csca"  # the DSC chains to a CSCA the terminal does not trust
    EXPIRED_DSC = "expired-dsc"  # the document signer's certificate has expired
    CLONE = "clone"  # data copied from a genuine card; AA and CA answered with another key
    NO_PACE = "no-pace"  # an old card: no EF.CardAccess (6A82), BAC only
    PACE_REFUSED = "pace-refused"  # announces PACE but answers MSE:Set AT with 6982
    SMALL_LE = "small-le"  # refuses Le above 223 and extended length with 6700
    REMOVED_AFTER = "removed-after"  # leaves the field after N APDUs (removed-after=N)
    NO_CHIP_AUTH = "no-chip-auth"  # no chip authentication key in DG14 or EF.CardAccess
    NO_ACTIVE_AUTH = "no-active-auth"  # no DG15 and no active-authentication key (INTERNAL AUTHENTICATE: 6D00)
    HIDDEN_KEYS = "hidden-keys"  # a clone that hides the key files: DG14 and DG15 answer 6A82, the SOD lists them


# The largest Le the SMALL_LE chip accepts: what still fits one short secured response.
SMALL_LE_LIMIT = 223


@dataclass(frozen=True, slots=True)
class ChipFaults:
    faults: frozenset[Fault] = frozenset()
    removed_after: int | None = None

    def __contains__(self, fault: object) -> bool:
        return fault in self.faults

    @property
    def max_le(self) -> int | None:
        return SMALL_LE_LIMIT if Fault.SMALL_LE in self.faults else None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(
            f"{fault.value}={self.removed_after}" if fault is Fault.REMOVED_AFTER else fault.value
            for fault in sorted(self.faults)
        )

    @classmethod
    def parse(cls, names: Iterable[str]) -> ChipFaults:
        """From ``--fault`` values such as ``clone`` or ``removed-after=12``; unknown names are a ValueError."""
        faults: set[Fault] = set()
        removed_after: int | None = None
        for raw in names:
            name, _, argument = raw.strip().partition("=")
            try:
                fault = Fault(name)
            except ValueError:
                known = ", ".join(f.value for f in Fault)
                raise ValueError(f"unknown fault {name!r}; known: {known}") from None
            if fault is Fault.REMOVED_AFTER:
                if not argument.isdigit() or int(argument) < 1:
                    raise ValueError("removed-after needs a number of APDUs, e.g. removed-after=12")
                removed_after = int(argument)
            elif argument:
                raise ValueError(f"fault {name} takes no argument")
            faults.add(fault)
        return cls(frozenset(faults), removed_after)
