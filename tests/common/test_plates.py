"""Plate rules (SPEC §2): examples, then properties over generated plates of every kind."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from apps.common.errors import DomainError
from apps.common.plates import (
    KINDS,
    PLATE_COLORS,
    PROVINCES,
    Plate,
    PlateError,
    is_new_energy,
    mask,
    normalize,
    parse,
    validate,
)

SERIAL = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"  # [A-HJ-NP-Z0-9]
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
DIGITS = "0123456789"
ENERGY = "ABCDEFGHJK"
SUFFIXES = "警学挂港澳领试超"

# --- strategies -------------------------------------------------------------------------------

province = st.sampled_from(PROVINCES)
letter = st.sampled_from(LETTERS)


def chars(alphabet, n, m=None):
    return st.text(alphabet=alphabet, min_size=n, max_size=n if m is None else m)


def joined(*parts):
    return st.tuples(*parts).map("".join)


PLATES_BY_KIND = {
    "ordinary": joined(province, letter, chars(SERIAL, 5)),
    "new_energy_small": joined(province, letter, st.sampled_from(ENERGY),
                               st.sampled_from(SERIAL), chars(DIGITS, 4)),
    "new_energy_large": joined(province, letter, chars(DIGITS, 5), st.sampled_from(ENERGY)),
    "special": joined(province, letter, chars(SERIAL, 4), st.sampled_from(SUFFIXES)),
    "embassy": st.one_of(joined(st.just("使"), chars(DIGITS, 6)),
                         joined(chars(DIGITS, 6), st.just("使"))),
    "emergency": joined(province, letter, chars(SERIAL, 4, 5), st.just("应急")),
    "armed_police": joined(st.just("WJ"), province, chars(SERIAL, 5)),
}
valid_plate = st.sampled_from(KINDS).flatmap(
    lambda kind: st.tuples(st.just(kind), PLATES_BY_KIND[kind]))

SEPARATORS = [" ", "\u3000", "\t", "\u00a0", "·", "•", "・", "\u00b7", "-", "－", "\u200b"]


def full_width(ch):
    return chr(ord(ch) + 0xFEE0) if ch.isascii() and ch.isalnum() else ch


@st.composite
def decorated(draw, plate):
    """``plate`` as a person or a camera might send it: spaced, dotted, lower-case, full-width."""
    out = []
    for ch in plate:
        out.append(draw(st.sampled_from(["", "", *SEPARATORS])))
        if ch.isascii() and ch.isalpha() and draw(st.booleans()):
            ch = ch.lower()
        if draw(st.booleans()):
            ch = full_width(ch)
        out.append(ch)
    out.append(draw(st.sampled_from(["", *SEPARATORS])))
    return "".join(out)


# --- examples ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "value", "kind", "prov", "new_energy"), [
    ("苏B12345", "苏B12345", "ordinary", "苏", False),
    ("苏b·12345", "苏B12345", "ordinary", "苏", False),
    ("苏B　１２３４５", "苏B12345", "ordinary", "苏", False),
    (" 苏 B-ａ1234 ", "苏BA1234", "ordinary", "苏", False),
    ("苏I12345", "苏I12345", "ordinary", "苏", False),  # authority letter may be I or O
    ("苏O12345", "苏O12345", "ordinary", "苏", False),
    ("苏BD12345", "苏BD12345", "new_energy_small", "苏", True),
    ("苏BFA1234", "苏BFA1234", "new_energy_small", "苏", True),
    ("苏B12345D", "苏B12345D", "new_energy_large", "苏", True),
    ("苏B1234学", "苏B1234学", "special", "苏", False),
    ("粤Z1234港", "粤Z1234港", "special", "粤", False),
    ("使123456", "使123456", "embassy", None, False),
    ("123456使", "123456使", "embassy", None, False),
    ("苏B1234应急", "苏B1234应急", "emergency", "苏", False),
    ("苏B12345应急", "苏B12345应急", "emergency", "苏", False),
    ("wj苏12345", "WJ苏12345", "armed_police", "苏", False),
    ("WJ•京1234X", "WJ京1234X", "armed_police", "京", False),
])
def test_examples_parse(raw, value, kind, prov, new_energy):
    plate = parse(raw)
    assert plate == Plate(value=value, kind=kind, province=prov, new_energy=new_energy)
    assert validate(raw) == value
    assert is_new_energy(raw) is new_energy
    assert str(plate) == value


@pytest.mark.parametrize("raw", [
    "", "   ", "苏", "苏B1234", "苏B123456", "苏B1234I", "苏B1O345", "苏1B2345", "苏B12 34 5 6",
    "XB12345", "港B12345", "台A12345",  # not one of the 31 mainland provinces
    "苏BI12345", "苏BD1234A", "苏BDI1234", "苏B12345I", "苏B12345L",  # new-energy near misses
    "苏B123学", "苏B12345学", "苏B1234军",  # special near misses
    "使12345", "使1234567", "使12345A", "12345使", "使123456使",
    "苏B123应急", "苏B123456应急", "苏B1234应", "应急苏B1234",
    "WJ12345", "J苏12345", "W苏12345", "WJ苏1234", "WJ苏123456", "WJ苏1234I", "WX苏12345",
    "苏B12345\x00", "苏Ｂ12345?",
])
def test_examples_rejected(raw):
    with pytest.raises(PlateError) as info:
        validate(raw)
    assert info.value.code == "invalid_plate"
    assert info.value.message
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, DomainError)
    assert info.value.status == 400


@pytest.mark.parametrize("raw", [None, 12345, b"\xe8\x8b\x8fB12345", ["苏B12345"]])
def test_non_strings_rejected_with_plate_error(raw):
    with pytest.raises(PlateError):
        validate(raw)


def test_error_message_explains_i_and_o():
    with pytest.raises(PlateError, match="I and O"):
        validate("苏B1234O")


def test_error_does_not_echo_huge_input():
    with pytest.raises(PlateError) as info:
        validate("苏" * 10_000)
    assert len(info.value.message) < 300
    assert len(info.value.details["plate"]) < 40


def test_is_new_energy_none_is_false():
    assert is_new_energy(None) is False
    assert is_new_energy(parse("苏BD12345")) is True
    with pytest.raises(PlateError):
        is_new_energy("not a plate")


def test_plate_is_frozen():
    plate = parse("苏B12345")
    with pytest.raises(AttributeError):
        plate.value = "苏B54321"


@pytest.mark.parametrize(("raw", "masked"), [
    ("苏B12345", "苏B***45"),  # SPEC's example
    ("苏b 12345", "苏B***45"),
    ("苏BD12345", "苏B****45"),
    ("苏B12345D", "苏B****5D"),
    ("苏B1234学", "苏B***4学"),
    ("使123456", "使1***56"),
    ("123456使", "12***6使"),
    ("苏B12345应急", "苏B*****应急"),
    ("WJ苏12345", "WJ****45"),
])
def test_mask_examples(raw, masked):
    assert mask(raw) == masked


def test_mask_rejects_invalid():
    with pytest.raises(PlateError):
        mask("hello")


def test_colours():
    assert PLATE_COLORS == ("blue", "yellow", "green", "yellow_green", "white", "black")


def test_provinces_are_the_31_mainland_ones():
    assert len(PROVINCES) == len(set(PROVINCES)) == 31
    assert not set("港澳台") & set(PROVINCES)


# --- properties -------------------------------------------------------------------------------

@given(st.text())
def test_normalize_is_idempotent(raw):
    once = normalize(raw)
    assert normalize(once) == once


@given(st.text(alphabet=st.sampled_from(PROVINCES + LETTERS + LETTERS.lower() + DIGITS
                                        + "".join(SEPARATORS) + "ａｂｚＡＺ０９使应急学")))
def test_normalize_is_idempotent_on_plate_like_text(raw):
    once = normalize(raw)
    assert normalize(once) == once
    assert not any(ch.isspace() or ch in "·•・-－" for ch in once)
    assert not any("a" <= ch <= "z" or "\uff10" <= ch <= "\uff5a" for ch in once)


@given(valid_plate)
def test_every_generated_plate_is_valid_and_classified(kind_and_plate):
    kind, plate = kind_and_plate
    parsed = parse(plate)
    assert parsed.value == plate == validate(plate)
    assert parsed.kind == kind
    assert parsed.new_energy is (kind in ("new_energy_small", "new_energy_large"))
    if kind == "embassy":
        assert parsed.province is None
    else:
        assert parsed.province in PROVINCES and parsed.province in plate


@given(valid_plate.flatmap(lambda kp: st.tuples(st.just(kp), decorated(kp[1]))))
def test_decorated_plates_normalise_to_the_plate(args):
    (kind, plate), raw = args
    assert validate(normalize(raw)) == plate
    assert validate(raw) == plate
    assert parse(raw).kind == kind


@st.composite
def plate_with_i_or_o_in_serial(draw):
    kind, plate = draw(valid_plate.filter(lambda kp: kp[0] != "embassy"))
    first_serial = 3 if kind == "armed_police" else 2
    last_serial = len(plate) - 1  # exclusive of suffix characters, handled below
    if kind == "special":
        last_serial -= 1
    elif kind == "emergency":
        last_serial -= 2
    position = draw(st.integers(first_serial, last_serial))
    bad = draw(st.sampled_from("IOio"))
    return plate[:position] + bad + plate[position + 1:]


@given(plate_with_i_or_o_in_serial())
def test_i_and_o_in_serial_positions_are_rejected(raw):
    with pytest.raises(PlateError):
        validate(raw)


@given(st.one_of(
    st.text(),
    st.text(alphabet=st.sampled_from(PROVINCES + LETTERS + DIGITS + "使应急学警WJ· -")),
    st.binary().map(lambda b: b.decode("utf-8", "replace")),
))
def test_random_text_only_ever_raises_plate_error(raw):
    try:
        value = validate(raw)
    except PlateError as error:
        assert error.code == "invalid_plate"
        return
    # Rarely the text is a plate after all; then it must be a consistent one.
    assert parse(value).value == value == normalize(raw)


@given(valid_plate.map(lambda kp: kp[1]))
def test_mask_hides_all_but_four_and_keeps_length(plate):
    masked = mask(plate)
    assert len(masked) == len(plate)
    shown = [(i, ch) for i, ch in enumerate(masked) if ch != "*"]
    assert len(shown) <= 4
    assert all(plate[i] == ch for i, ch in shown)
    assert masked[:2] == plate[:2] and masked[-2:] == plate[-2:]


@settings(max_examples=50)
@given(valid_plate.flatmap(lambda kp: decorated(kp[1])))
def test_mask_of_a_decorated_plate_is_the_mask_of_the_plate(raw):
    assert mask(raw) == mask(normalize(raw))
