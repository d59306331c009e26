"""The card holder as a terminal reports it: the fields of DG13 (Vietnamese profile), completed from DG1."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

Sex = Literal["M", "F"]


@dataclass(frozen=True, slots=True)
class Holder:
    """Who the card says its holder is. Text is NFC-normalised; a field the card does not carry is None.

    ``sex`` is ``"M"`` or ``"F"`` whatever the source spells (``Nam``/``Nữ`` in DG13 and the QR code, ``M``/``F`` in
    the MRZ); ``date_of_expiry`` is None for a card without expiry (MRZ ``991231``, DG13 "Không thời hạn").
    """

    id_number: str | None = None
    old_id_number: str | None = None
    full_name: str | None = None
    date_of_birth: dt.date | None = None
    sex: Sex | None = None
    nationality: str | None = None
    ethnicity: str | None = None
    religion: str | None = None
    place_of_origin: str | None = None
    place_of_residence: str | None = None
    identifying_marks: str | None = None
    date_of_issue: dt.date | None = None
    date_of_expiry: dt.date | None = None
    father_name: str | None = None
    mother_name: str | None = None
    spouse_name: str | None = None
