"""A synthetic population of Vietnamese citizens, consistent enough to stand in for the real one in tests and demos.

Every record follows the real structure: the 12-digit personal ID is the 3-digit code of the province where the birth
was registered, the century/sex digit, the last two digits of the birth year and six serial digits (built by
``mrtd.cccd_id_number``, the rule the terminal's QR validator checks); households have one head (chủ hộ) and members
whose names, parents and spouses agree with each other; some adults hold an old 9-digit CMND number, nobody born after
2007 does; cards are issued from 2021 (chip cards) and expire on the 25th, 40th or 60th birthday, or never, by the
renewal rule (``mrtd.expiry_candidates``, the one the terminal uses to open the chip). Names and addresses carry
Vietnamese diacritics, normalised to NFC. Everything is drawn from one seeded generator, so a seed always gives the
same people.

The name and place lists, the address format and the QR text are public: the synthetic QR-code corpus
(``hw.synthetic_citizen``) draws from them too.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
import json
import random
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from mrtd import PROVINCE_CODES, Sex, cccd_id_number, expiry_candidates

# Population registry and chip-card facts the generator obeys.
CHIP_CARD_START: Final = dt.date(2021, 1, 15)  # first chip-based CCCDs
LAST_CMND_BIRTH_YEAR: Final = 2007  # CMND were issued from age 14 until 2021
DEFAULT_REFERENCE_DATE: Final = dt.date(2025, 12, 1)


class Relation(enum.StrEnum):
    """A member's relation to the head of the household, as the household register spells it."""

    HEAD = "Chủ hộ"
    WIFE = "Vợ"
    HUSBAND = "Chồng"
    CHILD = "Con"
    FATHER = "Cha"
    MOTHER = "Mẹ"


# Hà Nội, Hải Phòng, Đà Nẵng, Hồ Chí Minh, Cần Thơ: the centrally-run cities (thành phố trực thuộc trung ương).
_CENTRAL_CITIES: Final = frozenset({"001", "031", "048", "079", "092"})


@dataclass(frozen=True, slots=True)
class Province:
    code: str
    # district -> communes/wards
    districts: Mapping[str, tuple[str, ...]]
    ethnicities: tuple[str, ...] = ("Kinh",)

    def __post_init__(self) -> None:
        if self.code not in PROVINCE_CODES:
            raise ValueError(f"{self.code!r} is not a province code")

    @property
    def name(self) -> str:
        return PROVINCE_CODES[self.code]

    @property
    def title(self) -> str:
        """The name as addresses write it in full: ``Thành phố`` for the five centrally-run cities, else ``Tỉnh``."""
        return f"{'Thành phố' if self.code in _CENTRAL_CITIES else 'Tỉnh'} {self.name}"


# Real province codes (mrtd.PROVINCE_CODES) with a few real districts and wards each.
PROVINCES: Final[tuple[Province, ...]] = (
    Province(
        "001",
        {
            "Quận Cầu Giấy": ("Phường Dịch Vọng", "Phường Quan Hoa", "Phường Nghĩa Đô"),
            "Quận Đống Đa": ("Phường Láng Hạ", "Phường Kim Liên", "Phường Ô Chợ Dừa"),
            "Huyện Thanh Trì": ("Xã Tam Hiệp", "Xã Vĩnh Quỳnh"),
        },
    ),
    Province(
        "079",
        {
            "Quận 3": ("Phường Võ Thị Sáu", "Phường 9"),
            "Quận Bình Thạnh": ("Phường 25", "Phường 14"),
            "Thành phố Thủ Đức": ("Phường Linh Trung", "Phường Thảo Điền"),
        },
        ("Kinh", "Kinh", "Kinh", "Hoa"),
    ),
    Province("031", {"Quận Lê Chân": ("Phường An Biên",), "Quận Ngô Quyền": ("Phường Lạch Tray",)}),
    Province(
        "048",
        {"Quận Hải Châu": ("Phường Thạch Thang", "Phường Hòa Cường Bắc"), "Quận Sơn Trà": ("Phường An Hải Bắc",)},
    ),
    Province("092", {"Quận Ninh Kiều": ("Phường An Hòa", "Phường Xuân Khánh")}),
    Province(
        "036",
        {"Huyện Hải Hậu": ("Xã Hải Minh", "Xã Hải Anh"), "Thành phố Nam Định": ("Phường Trần Hưng Đạo",)},
    ),
    Province("038", {"Huyện Hoằng Hóa": ("Xã Hoằng Đạo",), "Thành phố Thanh Hóa": ("Phường Điện Biên",)}),
    Province("040", {"Huyện Nghi Lộc": ("Xã Nghi Phong",), "Thành phố Vinh": ("Phường Hưng Bình",)}),
    Province("046", {"Thành phố Huế": ("Phường Phú Hội", "Phường Vĩnh Ninh")}),
    Province(
        "066",
        {"Thành phố Buôn Ma Thuột": ("Phường Tân Lợi",), "Huyện Krông Pắc": ("Xã Ea Phê",)},
        ("Kinh", "Kinh", "Ê Đê"),
    ),
    Province(
        "089",
        {"Thành phố Long Xuyên": ("Phường Mỹ Bình",), "Huyện Chợ Mới": ("Xã Kiến An",)},
        ("Kinh", "Kinh", "Chăm"),
    ),
    Province("094", {"Huyện Mỹ Xuyên": ("Xã Đại Tâm",)}, ("Kinh", "Khmer")),
    Province(
        "010",
        {"Thị xã Sa Pa": ("Phường Sa Pa",), "Huyện Bát Xát": ("Xã Quang Kim",)},
        ("Kinh", "Mông", "Tày"),
    ),
    Province("004", {"Huyện Hòa An": ("Xã Hồng Việt",)}, ("Tày", "Nùng", "Kinh")),
)

SURNAMES: Final[Mapping[str, tuple[str, ...]]] = {
    "Kinh": (
        "Nguyễn",
        "Nguyễn",
        "Nguyễn",
        "Trần",
        "Trần",
        "Lê",
        "Lê",
        "Phạm",
        "Hoàng",
        "Huỳnh",
        "Phan",
        "Vũ",
        "Võ",
        "Đặng",
        "Bùi",
        "Đỗ",
        "Hồ",
        "Ngô",
        "Dương",
        "Lý",
        "Trịnh",
        "Đinh",
    ),
    "Hoa": ("Lâm", "Quách", "Trương", "Lý", "Hứa"),
    "Tày": ("Nông", "Hoàng", "Lương", "Hà", "Bế"),
    "Nùng": ("Nông", "Lăng", "Hoàng", "Chu"),
    "Mông": ("Giàng", "Sùng", "Vàng", "Lý"),
    "Khmer": ("Thạch", "Sơn", "Lâm", "Kim"),
    "Chăm": ("Từ", "Mã", "Châu"),
    "Ê Đê": ("Niê", "Mlô", "Ksor"),
}
"""Family names by ethnicity (Kinh also for any other)."""
MIDDLE_NAMES: Final[Mapping[Sex, tuple[str, ...]]] = {
    "M": ("Văn", "Văn", "Hữu", "Đức", "Minh", "Quang", "Thành", "Công", "Xuân", "Ngọc", "Gia"),
    "F": ("Thị", "Thị", "Thị", "Ngọc", "Thu", "Thanh", "Kim", "Mai", "Phương", "Hồng", "Bảo"),
}
GIVEN_NAMES: Final[Mapping[Sex, tuple[str, ...]]] = {
    "M": (
        "An",
        "Bình",
        "Cường",
        "Dũng",
        "Hải",
        "Hùng",
        "Khoa",
        "Long",
        "Nam",
        "Phúc",
        "Quân",
        "Sơn",
        "Thắng",
        "Tuấn",
        "Việt",
        "Đạt",
        "Hiếu",
        "Trung",
        "Khánh",
        "Lộc",
        "Phát",
        "Tài",
        "Vĩnh",
        "Đông",
    ),
    "F": (
        "Anh",
        "Chi",
        "Dung",
        "Hà",
        "Hạnh",
        "Hương",
        "Lan",
        "Linh",
        "Mai",
        "Ngân",
        "Nhung",
        "Phương",
        "Thảo",
        "Trang",
        "Vân",
        "Yến",
        "Hằng",
        "Thủy",
        "Ngọc",
        "Diệp",
        "Oanh",
        "Quyên",
        "Tuyết",
        "Ánh",
    ),
}
_RELIGIONS: Final = ("Không", "Không", "Không", "Không", "Không", "Phật giáo", "Phật giáo", "Công giáo", "Tin lành")
_RELIGIONS_BY_PROVINCE: Final = {"089": ("Không", "Phật giáo Hòa Hảo", "Phật giáo"), "094": ("Phật giáo", "Không")}
_MARK_KINDS: Final = ("Nốt ruồi", "Nốt ruồi", "Sẹo chấm", "Sẹo")
_MARK_PLACES: Final = (
    "trên trước đầu lông mày phải",
    "dưới sau cánh mũi trái",
    "dưới trước mép phải",
    "trên sau đuôi mắt trái",
    "dưới sau dái tai phải",
    "trên trước cằm",
)
VILLAGES: Final = ("Thôn Đông", "Thôn Nam", "Xóm 3", "Xóm 7", "Ấp Bình An", "Tổ 12", "Khu phố 4")
STREETS: Final = ("Trần Phú", "Lê Lợi", "Nguyễn Trãi", "Hai Bà Trưng", "Quang Trung", "Lý Thường Kiệt")


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


@dataclass(frozen=True, slots=True)
class Citizen:
    """One synthetic person, with the card the registry says they hold.

    ``date_of_issue`` is None for someone without a chip card (children under 14); ``date_of_expiry`` is None for a
    card without expiry (issued from the 58th birthday on; ``991231`` in the MRZ). Text is NFC.
    """

    id_number: str
    full_name: str
    date_of_birth: dt.date
    sex: Sex
    place_of_origin: str
    place_of_residence: str
    household_id: str
    relation: Relation
    old_id_number: str | None = None
    nationality: str = "Việt Nam"
    ethnicity: str = "Kinh"
    religion: str = "Không"
    identifying_marks: str | None = None
    father_name: str | None = None
    mother_name: str | None = None
    spouse_name: str | None = None
    date_of_issue: dt.date | None = None
    date_of_expiry: dt.date | None = None
    # DG13 field 16 on real cards: a 16-character value of unknown meaning, kept so the chip carries one.
    card_serial: str = ""

    def __post_init__(self) -> None:
        if len(self.id_number) != 12 or not self.id_number.isdigit():
            raise ValueError("the ID number must be 12 digits")
        if self.old_id_number is not None and (len(self.old_id_number) != 9 or not self.old_id_number.isdigit()):
            raise ValueError("the old ID number must be 9 digits")
        if self.sex not in ("M", "F"):
            raise ValueError("sex must be M or F")
        if self.date_of_issue is None and self.date_of_expiry is not None:
            raise ValueError("a citizen without a card has no expiry date")

    @property
    def has_card(self) -> bool:
        return self.date_of_issue is not None

    @property
    def document_number(self) -> str:
        """The MRZ document number of the chip card: the last 9 digits of the ID."""
        return self.id_number[-9:]

    @property
    def can(self) -> str:
        """The card access number (PACE password): the last 6 digits of the ID."""
        return self.id_number[-6:]

    @property
    def province_code(self) -> str:
        return self.id_number[:3]

    def age_on(self, day: dt.date) -> int:
        born = self.date_of_birth
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready mapping with ISO dates; ``from_json`` reads it back."""
        out: dict[str, Any] = {}
        for name in self.__slots__:
            value = getattr(self, name)
            if isinstance(value, dt.date):
                value = value.isoformat()
            elif isinstance(value, Relation):
                value = value.value
            out[name] = value
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Citizen:
        """Build a citizen from ``to_json`` output; unknown keys and wrong types are a ValueError."""
        if not isinstance(data, Mapping):
            raise ValueError("a citizen record is a JSON object")
        known = set(cls.__slots__)
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown citizen fields: {', '.join(sorted(unknown))}")
        kwargs: dict[str, Any] = {}
        for name, value in data.items():
            if value is None:
                kwargs[name] = None
            elif name in ("date_of_birth", "date_of_issue", "date_of_expiry"):
                kwargs[name] = dt.date.fromisoformat(_as_str(name, value))
            elif name == "relation":
                kwargs[name] = Relation(_as_str(name, value))
            else:
                kwargs[name] = nfc(_as_str(name, value))
        required = [
            f.name
            for f in dataclasses.fields(cls)
            if f.init and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        ]
        missing = [name for name in required if name not in kwargs]
        if missing:
            raise ValueError(f"incomplete citizen record: missing {', '.join(missing)}")
        return cls(**kwargs)


def _as_str(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"citizen field {name} must be a string")
    return value


@dataclass(frozen=True, slots=True)
class Household:
    """A registered household (hộ gia đình): its head, members (head first) and the address they share."""

    household_id: str
    head_id: str
    member_ids: tuple[str, ...]
    address: str


@dataclass(frozen=True, slots=True)
class Population:
    citizens: tuple[Citizen, ...]
    households: tuple[Household, ...]
    seed: int
    reference_date: dt.date
    _by_id: dict[str, Citizen] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {c.id_number: c for c in self.citizens})

    def __iter__(self) -> Iterator[Citizen]:
        return iter(self.citizens)

    def __len__(self) -> int:
        return len(self.citizens)

    def by_id(self, id_number: str) -> Citizen:
        return self._by_id[id_number]

    def card_holders(self) -> tuple[Citizen, ...]:
        return tuple(c for c in self.citizens if c.has_card)

    def to_json(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "reference_date": self.reference_date.isoformat(),
            "households": [
                {
                    "household_id": h.household_id,
                    "head_id": h.head_id,
                    "member_ids": list(h.member_ids),
                    "address": h.address,
                }
                for h in self.households
            ],
            "citizens": [c.to_json() for c in self.citizens],
        }

    def dumps(self) -> str:
        return json.dumps(self.to_json(), ensure_ascii=False, indent=2)


# --- dates -------------------------------------------------------------------------------------------------------


def add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a common year: the renewal date falls on 28 February
        return day.replace(year=day.year + years, day=28)


def card_expiry(date_of_birth: dt.date, date_of_issue: dt.date) -> dt.date | None:
    """The expiry date the renewal rule gives a card issued on ``date_of_issue`` (None: no expiry): the statutory
    date, which is the first of the candidates a terminal tries (``mrtd.expiry_candidates``).

    The card expires on the first renewal birthday (25, 40, 60; also 14 for cards issued under the 2023 Law on
    Identification) after issue, but a card issued within the two years before a renewal age stays valid until the
    next one; from 58 on, a card never expires.
    """
    return expiry_candidates(date_of_birth, issued=date_of_issue)[0]


def random_date(rng: random.Random, start: dt.date, end: dt.date) -> dt.date:
    """A day from ``start`` to ``end``, both included (``start`` when the range is empty)."""
    span = (end - start).days
    return start + dt.timedelta(days=rng.randint(0, max(span, 0)))


def _birth_date(rng: random.Random, year: int) -> dt.date:
    return random_date(rng, dt.date(year, 1, 1), dt.date(year, 12, 31))


def _issue_date(rng: random.Random, born: dt.date, today: dt.date) -> dt.date | None:
    """When this person's current card was issued: a first card, then re-issues at each renewal age passed."""
    eligible = max(add_years(born, 14), CHIP_CARD_START)
    if eligible > today:
        return None
    issued = random_date(rng, eligible, min(today, eligible + dt.timedelta(days=900)))
    while True:
        expiry = card_expiry(born, issued)
        if expiry is None or expiry > today:
            return issued
        renewal = expiry + dt.timedelta(days=rng.randint(-20, 120))
        issued = min(max(renewal, issued + dt.timedelta(days=1)), today)


# --- names and places --------------------------------------------------------------------------------------------


def _given_and_middle(rng: random.Random, sex: Sex) -> str:
    return f"{rng.choice(MIDDLE_NAMES[sex])} {rng.choice(GIVEN_NAMES[sex])}"


def _surname(rng: random.Random, ethnicity: str) -> str:
    return rng.choice(SURNAMES.get(ethnicity, SURNAMES["Kinh"]))


def _place(rng: random.Random, province: Province, *, formal: bool = False) -> str:
    district = rng.choice(sorted(province.districts))
    commune = rng.choice(province.districts[district])
    return f"{commune}, {district}, {province.title if formal else province.name}"


def residence_address(rng: random.Random, province: Province, *, long: bool = False) -> str:
    """A street or village address in a real district and ward of ``province``.

    ``long`` writes it the way the longest real addresses are written (lane numbers, ngõ/ngách, tổ and khu phố, the
    province's full title): the QR-code corpus needs them, since they make the densest symbols.
    """
    street = rng.random() < 0.5
    if not long:
        head = f"Số {rng.randint(1, 250)} {rng.choice(STREETS)}" if street else rng.choice(VILLAGES)
        return f"{head}, {_place(rng, province)}"
    if street:
        number = f"{rng.randint(1, 399)}/{rng.randint(1, 99)}/{rng.randint(1, 30)}"
        head = f"Số {number}, Đường {rng.choice(STREETS)}, Tổ {rng.randint(1, 40)}, Khu phố {rng.randint(1, 12)}"
    else:
        lane = f"Số nhà {rng.randint(1, 250)}, ngõ {rng.randint(1, 120)}, ngách {rng.randint(1, 60)}"
        head = f"{lane}, {rng.choice(VILLAGES)}"
    return f"{head}, {_place(rng, province, formal=True)}"


def _marks(rng: random.Random) -> str:
    distance = rng.choice(("1cm", "1,5cm", "2cm", "2,5cm", "3cm"))
    return f"{rng.choice(_MARK_KINDS)} C:{distance} {rng.choice(_MARK_PLACES)}"


# --- the generator -----------------------------------------------------------------------------------------------


def cmnd_number(rng: random.Random) -> str:
    """A 9-digit old ID (CMND) number: a 2-digit issuing-office code, then 7 serial digits."""
    return f"{rng.randint(1, 38):02d}{rng.randint(0, 9_999_999):07d}"


class _Draw:
    """Unique ID and CMND serials, so no two generated people share a number."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.ids: set[str] = set()
        self.cmnds: set[str] = set()

    def id_number(self, province: Province, born: dt.date, sex: Sex) -> str:
        while True:
            candidate = cccd_id_number(province.code, born, sex, self.rng.randint(0, 999_999))
            if candidate not in self.ids:
                self.ids.add(candidate)
                return candidate

    def cmnd(self) -> str:
        while True:
            candidate = cmnd_number(self.rng)
            if candidate not in self.cmnds:
                self.cmnds.add(candidate)
                return candidate


@dataclass(slots=True)
class _Person:
    """A mutable draft; links (spouse, parents) are filled in before it is frozen into a Citizen."""

    full_name: str
    surname: str
    sex: Sex
    born: dt.date
    province: Province
    ethnicity: str
    relation: Relation
    origin: str
    father: _Person | None = None
    mother: _Person | None = None
    spouse: _Person | None = None


def generate_population(count: int, *, seed: int = 0, reference_date: dt.date = DEFAULT_REFERENCE_DATE) -> Population:
    """``count`` citizens in households (the last household may be cut short to hit ``count`` exactly).

    The same ``seed`` and ``reference_date`` always give the same population. Dates of issue and birth lie on or
    before ``reference_date``, and every card holds on that date (expired cards are renewed).
    """
    if count < 0:
        raise ValueError("count must not be negative")
    rng = random.Random(seed)
    draw = _Draw(rng)
    citizens: list[Citizen] = []
    households: list[Household] = []
    number = 0
    while len(citizens) < count:
        number += 1
        members = _draft_household(rng, reference_date)[: count - len(citizens)]
        household_id = f"HGD{seed % 1000:03d}{number:06d}"
        address = residence_address(rng, members[0].province)
        frozen = _freeze(
            rng, draw=draw, members=members, household_id=household_id, address=address, today=reference_date
        )
        citizens.extend(frozen)
        households.append(Household(household_id, frozen[0].id_number, tuple(c.id_number for c in frozen), address))
    return Population(tuple(citizens), tuple(households), seed, reference_date)


def _draft_household(rng: random.Random, today: dt.date) -> list[_Person]:
    province = rng.choice(PROVINCES)
    ethnicity = rng.choice(province.ethnicities)
    head_sex: Sex = "M" if rng.random() < 0.7 else "F"
    head_age = rng.randint(24, 78)
    head_born = _birth_date(rng, today.year - head_age)
    head_surname = _surname(rng, ethnicity)
    origin = _place(rng, rng.choice((province, province, rng.choice(PROVINCES))))
    head = _Person(
        f"{head_surname} {_given_and_middle(rng, head_sex)}",
        head_surname,
        head_sex,
        head_born,
        province,
        ethnicity,
        Relation.HEAD,
        origin,
    )
    members = [head]
    if rng.random() < 0.8:
        spouse_sex: Sex = "F" if head_sex == "M" else "M"
        spouse_born = _birth_date(rng, head_born.year + rng.randint(-3, 6) * (1 if head_sex == "M" else -1))
        spouse_surname = _surname(rng, ethnicity)
        spouse = _Person(
            f"{spouse_surname} {_given_and_middle(rng, spouse_sex)}",
            spouse_surname,
            spouse_sex,
            spouse_born,
            rng.choice((province, province, rng.choice(PROVINCES))),
            ethnicity,
            Relation.WIFE if spouse_sex == "F" else Relation.HUSBAND,
            _place(rng, rng.choice(PROVINCES)),
        )
        head.spouse, spouse.spouse = spouse, head
        members.append(spouse)
        father, mother = (head, spouse) if head_sex == "M" else (spouse, head)
        youngest_parent = max(head_born, spouse_born)
        for _ in range(rng.choice((0, 1, 1, 2, 2, 2, 3))):
            child_year = youngest_parent.year + rng.randint(20, 38)
            if child_year > today.year:
                continue
            child_sex: Sex = rng.choice(("M", "F"))
            child_born = _birth_date(rng, child_year)
            if child_born > today:
                continue
            child = _Person(
                f"{father.surname} {_given_and_middle(rng, child_sex)}",
                father.surname,
                child_sex,
                child_born,
                province,
                ethnicity,
                Relation.CHILD,
                father.origin,
                father=father,
                mother=mother,
            )
            members.append(child)
    if head_age < 50 and rng.random() < 0.25:
        # An elderly parent of the head living with the family.
        parent_sex: Sex = rng.choice(("M", "F"))
        parent_born = _birth_date(rng, head_born.year - rng.randint(22, 35))
        parent_surname = head_surname if parent_sex == "M" else _surname(rng, ethnicity)
        parent = _Person(
            f"{parent_surname} {_given_and_middle(rng, parent_sex)}",
            parent_surname,
            parent_sex,
            parent_born,
            province,
            ethnicity,
            Relation.FATHER if parent_sex == "M" else Relation.MOTHER,
            head.origin,
        )
        if parent_sex == "M":
            head.father = parent
        else:
            head.mother = parent
        members.append(parent)
    return members


def _freeze(
    rng: random.Random,
    *,
    draw: _Draw,
    members: Sequence[_Person],
    household_id: str,
    address: str,
    today: dt.date,
) -> list[Citizen]:
    out: list[Citizen] = []
    for person in members:
        father_name = person.father.full_name if person.father else _parent_name(rng, person, "M")
        mother_name = person.mother.full_name if person.mother else _parent_name(rng, person, "F")
        issued = _issue_date(rng, person.born, today)
        old_id = draw.cmnd() if person.born.year <= LAST_CMND_BIRTH_YEAR - 2 and rng.random() < 0.6 else None
        out.append(
            Citizen(
                id_number=draw.id_number(person.province, person.born, person.sex),
                full_name=nfc(person.full_name),
                date_of_birth=person.born,
                sex=person.sex,
                place_of_origin=nfc(person.origin),
                place_of_residence=nfc(address),
                household_id=household_id,
                relation=person.relation,
                old_id_number=old_id,
                ethnicity=nfc(person.ethnicity),
                religion=nfc(rng.choice(_RELIGIONS_BY_PROVINCE.get(person.province.code, _RELIGIONS))),
                identifying_marks=nfc(_marks(rng)),
                father_name=nfc(father_name) if father_name else None,
                mother_name=nfc(mother_name) if mother_name else None,
                spouse_name=nfc(person.spouse.full_name) if person.spouse else None,
                date_of_issue=issued,
                date_of_expiry=card_expiry(person.born, issued) if issued else None,
                card_serial=f"{rng.getrandbits(64):016X}",
            )
        )
    return out


def _parent_name(rng: random.Random, person: _Person, sex: Sex) -> str | None:
    """A parent who is not in the household: named, unless the record leaves it blank (older holders often do)."""
    if rng.random() < 0.15:
        return None
    surname = person.surname if sex == "M" else _surname(rng, person.ethnicity)
    return f"{surname} {_given_and_middle(rng, sex)}"


def citizen(seed: int = 0, *, index: int = 0, reference_date: dt.date = DEFAULT_REFERENCE_DATE) -> Citizen:
    """One card holder drawn from the population of ``seed`` (the ``index``-th holder)."""
    population = generate_population(max(8, 2 * (index + 1)), seed=seed, reference_date=reference_date)
    holders = population.card_holders()
    while index >= len(holders):
        population = generate_population(2 * len(population) + 8, seed=seed, reference_date=reference_date)
        holders = population.card_holders()
    return holders[index]


class QrFields(Protocol):
    """What a CCCD QR code prints about its holder (a :class:`Citizen` with a card has it)."""

    @property
    def id_number(self) -> str: ...
    @property
    def old_id_number(self) -> str | None: ...
    @property
    def full_name(self) -> str: ...
    @property
    def date_of_birth(self) -> dt.date: ...
    @property
    def sex(self) -> Sex: ...
    @property
    def place_of_residence(self) -> str: ...
    @property
    def date_of_issue(self) -> dt.date | None: ...


def format_qr_text(holder: QrFields, *, field_count: int = 7, extra_fields: Sequence[str] = ()) -> str:
    """The text of the QR code on ``holder``'s card (cccd-spec §5): 7 fields with ``|`` between them; 11 on 2024
    cards (the 4 extra fields, empty when not given); 6 in the variant without the old-ID field."""
    if holder.date_of_issue is None:
        raise ValueError("this citizen holds no card")
    parts = [
        holder.id_number,
        holder.old_id_number or "",
        holder.full_name,
        holder.date_of_birth.strftime("%d%m%Y"),
        "Nam" if holder.sex == "M" else "Nữ",
        holder.place_of_residence,
        holder.date_of_issue.strftime("%d%m%Y"),
    ]
    if field_count == 6:
        del parts[1]
    elif field_count == 11:
        parts.extend((*extra_fields, "", "", "", "")[:4])
    elif field_count != 7:
        raise ValueError("a CCCD QR has 6, 7 or 11 fields")
    return "|".join(parts)


def qr_text(person: Citizen) -> str:
    """The text of the QR code printed on the citizen's card (the 7-field form)."""
    return format_qr_text(person)
