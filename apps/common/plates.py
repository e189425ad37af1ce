"""Chinese licence plates: normalising, validating, classifying and masking (SPEC §2).

Pure code: no Django, no database, no settings, so the ingest API, the admin, the fee engine and
the property tests all share exactly one definition of what a plate is.

Readings of SPEC §2 where it leaves room:

- Normalising also drops other separators people and OCR produce for the same purpose: every
  Unicode whitespace character (U+3000 ideographic space included), zero-width characters, the
  middle dots U+00B7 ``·``, U+2022 ``•``, U+30FB ``・``, U+FF65 ``･`` and the dashes ``-``, ``－``
  (U+FF0D), U+2010–U+2015 and U+2212. Only ASCII letters are upper-cased, after full-width forms
  have been folded to ASCII, so normalising is idempotent and never touches Chinese characters.
- The authority letter (second character) is any of A–Z, I and O included, as SPEC writes it;
  the serial positions after it use ``[A-HJ-NP-Z0-9]`` (no I, no O).
- Emergency plates (``…应急``) are read as province + authority letter + 4 or 5 serial characters
  ``[A-HJ-NP-Z0-9]`` + ``应急`` (8 or 9 characters), e.g. ``苏B1234应急``, ``苏B12345应急``.
- Armed police plates are ``WJ`` + province + exactly 5 serial characters ``[A-HJ-NP-Z0-9]``
  (8 characters), e.g. ``WJ苏12345``; their ``province`` is the one after ``WJ``.
- Embassy plates (``使123456``, ``123456使``) carry no province: ``Plate.province`` is ``None``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final, Literal

from apps.common.errors import DomainError

__all__ = [
    "KINDS",
    "PLATE_COLORS",
    "PROVINCES",
    "SEARCH",
    "Plate",
    "PlateError",
    "is_new_energy",
    "mask",
    "normalize",
    "parse",
    "validate",
]

PROVINCES: Final = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"

PLATE_COLORS: Final = ("blue", "yellow", "green", "yellow_green", "white", "black")

Kind = Literal[
    "ordinary",
    "new_energy_small",
    "new_energy_large",
    "special",
    "embassy",
    "emergency",
    "armed_police",
]
KINDS: Final[tuple[Kind, ...]] = (
    "ordinary",
    "new_energy_small",
    "new_energy_large",
    "special",
    "embassy",
    "emergency",
    "armed_police",
)
NEW_ENERGY_KINDS: Final = frozenset({"new_energy_small", "new_energy_large"})

SPECIAL_SUFFIXES: Final = "警学挂港澳领试超"


class PlateError(DomainError, ValueError):
    """A plate that is none of SPEC §2's forms; renders as 400 ``invalid_plate``."""

    code = "invalid_plate"
    status = 400

    def __init__(self, message: str, *, plate: object = None):
        details = {"plate": plate} if isinstance(plate, str) else {}
        super().__init__(message, field="plate", details=details)
        self.plate = plate


# --- normalising ------------------------------------------------------------------------------

def _build_table() -> dict[int, int | None]:
    table: dict[int, int | None] = {}
    # Separators: whitespace of every kind, invisible joiners, middle dots, dashes.
    for cp in range(0x3001):  # U+3000 is the highest code point str.isspace() accepts
        if chr(cp).isspace():
            table[cp] = None
    for ch in "\u200b\u200c\u200d\u2060\ufeff\u00ad":  # zero-width and soft hyphen
        table[ord(ch)] = None
    for ch in "\u00b7\u2022\u30fb\uff65\u2027\u2219\u22c5":  # · • ・ ･ ‧ ∙ ⋅
        table[ord(ch)] = None
    for ch in "-\uff0d\u2010\u2011\u2012\u2013\u2014\u2015\u2212":  # - － ‐ ‑ ‒ – — ― −
        table[ord(ch)] = None
    # Full-width digits and letters to ASCII, letters upper-cased.
    for offset in range(10):
        table[0xFF10 + offset] = ord("0") + offset
    for offset in range(26):
        table[0xFF21 + offset] = ord("A") + offset
        table[0xFF41 + offset] = ord("A") + offset
        table[ord("a") + offset] = ord("A") + offset
    return table


_TABLE: Final = _build_table()


def normalize(raw: str) -> str:
    """Return ``raw`` in the form plates are stored and compared in (SPEC §2).

    Drops whitespace, dots and dashes, folds full-width letters and digits to ASCII and
    upper-cases letters. It does not validate: ``validate`` does.
    """
    if not isinstance(raw, str):
        raise TypeError(f"a plate is a str, not {type(raw).__name__}")
    return raw.translate(_TABLE)


# --- validating -------------------------------------------------------------------------------

_P = f"[{PROVINCES}]"
_S = "[A-HJ-NP-Z0-9]"  # serial characters: no I, no O
_E = "[A-HJK]"  # energy letters: D A B C E battery electric, F G H J K other new energy

_PATTERNS: Final[tuple[tuple[Kind, re.Pattern[str]], ...]] = tuple(
    (kind, re.compile(pattern))
    for kind, pattern in (
        ("ordinary", rf"(?P<province>{_P})[A-Z]{_S}{{5}}"),
        ("new_energy_small", rf"(?P<province>{_P})[A-Z]{_E}{_S}[0-9]{{4}}"),
        ("new_energy_large", rf"(?P<province>{_P})[A-Z][0-9]{{5}}{_E}"),
        ("special", rf"(?P<province>{_P})[A-Z]{_S}{{4}}[{SPECIAL_SUFFIXES}]"),
        ("embassy", r"使[0-9]{6}|[0-9]{6}使"),
        ("emergency", rf"(?P<province>{_P})[A-Z]{_S}{{4,5}}应急"),
        ("armed_police", rf"WJ(?P<province>{_P}){_S}{{5}}"),
    )
)

#: any plate of SPEC §2 inside a longer text (a log line, a URL), normalised or in either case, the
#: longer forms first; what surrounds it does not matter (masking too much is the safe mistake)
SEARCH: Final = re.compile(
    "(?:" + "|".join(f"(?:{p.pattern.replace('(?P<province>', '(?:')})" for _kind, p in sorted(
        _PATTERNS, key=lambda kp: kp[0] in ("ordinary", "special"))) + ")",
    re.IGNORECASE)

_ECHO_MAX = 32  # an error echoes at most this much of what was sent

_FORMS = "普通、新能源、警/学/挂/港/澳/领/试/超、使馆、应急或武警号牌"
_FORMS_EN = "ordinary, new-energy, special-suffix, embassy, emergency or armed police plate"


def _reason(value: str) -> str:
    """A short bilingual explanation of why ``value`` (normalised) is not a plate."""
    if not value:
        return "车牌号为空 / the plate is empty"
    first = value[0]
    if value.startswith("WJ"):
        if len(value) < 3 or value[2] not in PROVINCES:
            return "武警号牌 WJ 后应为省份简称 / an armed police plate needs a province after WJ"
        serial = value[3:]
    elif first in PROVINCES:
        serial = value[2:]
    elif first == "使" or value.endswith("使"):
        return "使馆号牌应为“使”加 6 位数字 / an embassy plate is 使 and 6 digits"
    else:
        return (f"“{first}”不是省份简称 / {first!r} is not a province abbreviation")
    if "I" in serial or "O" in serial:
        return "号码中不能有字母 I 或 O / the letters I and O are not used after the authority letter"
    return f"不是有效的{_FORMS} / not a valid {_FORMS_EN}"


@dataclass(frozen=True, slots=True)
class Plate:
    """A valid plate, normalised. ``province`` is ``None`` for embassy plates."""

    value: str
    kind: Kind
    province: str | None
    new_energy: bool

    def __str__(self) -> str:
        return self.value


def parse(raw: str) -> Plate:
    """Normalise and classify ``raw``; raise ``PlateError`` if it is no plate of SPEC §2."""
    if isinstance(raw, Plate):
        return raw
    if not isinstance(raw, str):
        raise PlateError(
            f"车牌号应为字符串 / a plate must be a string, not {type(raw).__name__}", plate=None
        )
    value = normalize(raw)
    for kind, pattern in _PATTERNS:
        match = pattern.fullmatch(value)
        if match:
            province = match.groupdict().get("province")
            return Plate(value=value, kind=kind, province=province,
                         new_energy=kind in NEW_ENERGY_KINDS)
    shown = value if len(value) <= _ECHO_MAX else value[:_ECHO_MAX] + "…"
    raise PlateError(f"无效车牌号 / invalid plate {shown!r}: {_reason(value)}", plate=shown)


def validate(plate: str) -> str:
    """Return ``plate`` normalised, or raise ``PlateError`` (code ``invalid_plate``)."""
    return parse(plate).value


def is_new_energy(plate: str | Plate | None) -> bool:
    """Whether the plate is a new-energy one (SPEC §2: its form decides, not the colour sent).

    ``None`` (a vehicle without a readable plate) is not; an invalid plate raises ``PlateError``.
    """
    if plate is None:
        return False
    return parse(plate).new_energy


def mask(plate: str | Plate) -> str:
    """The plate for public output: first two and last two characters kept, one ``*`` per other.

    SPEC's ``苏B***45`` hides the three middle characters of a 7-character plate, so the mask
    has the plate's length: ``苏BD12345`` → ``苏B****45``, ``苏B1234学`` → ``苏B***4学``. The first two
    characters are the province and authority letter; for armed police and embassy plates they are
    the analogous ``WJ`` and ``使1`` (or the first two digits of ``123456使``). At most four characters
    are ever shown. An invalid plate raises ``PlateError`` rather than being echoed half-masked.
    """
    value = parse(plate).value
    return value[:2] + "*" * (len(value) - 4) + value[-2:]
