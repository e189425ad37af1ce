"""The unified social credit code (统一社会信用代码, GB 32100-2015) and its check character."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from apps.regions.validators import CREDIT_CODE_CHARSET, credit_code_check_char, validate_credit_code

# Codes as published on business licences and in public registries (large companies and a
# government body), so the check character is tested against real data, not only against itself.
REAL_CODES = [
    "9144030071526726XG",
    "91330100716105852F",
    "91110000802100433B",
    "91110108551385082Q",
    "914403001922038216",
    "12100000400000624D",
    "11100000000013127D",
]


@pytest.mark.parametrize("code", REAL_CODES)
def test_real_codes_are_valid(code):
    validate_credit_code(code)


def test_lower_case_and_surrounding_spaces_are_accepted():
    validate_credit_code("  9144030071526726xg ")


@pytest.mark.parametrize("code", REAL_CODES)
def test_every_wrong_check_character_is_rejected(code):
    for wrong in CREDIT_CODE_CHARSET.replace(code[-1], ""):
        with pytest.raises(ValidationError, match="校验位") as excinfo:
            validate_credit_code(code[:-1] + wrong)
        assert excinfo.value.code == "invalid_credit_code"


@pytest.mark.parametrize("code,message", [
    ("9144030071526726X", "18位"),
    ("9144030071526726XGA", "18位"),
    ("", "18位"),
    ("914403007152672IXG", "字符"),  # I is not in the character set
    ("9144030071526726OG", "字符"),  # nor O
    ("91AB030071526726XG", "字符"),  # characters 3–8 are the division code: digits
])
def test_malformed_codes_are_rejected(code, message):
    with pytest.raises(ValidationError, match=message):
        validate_credit_code(code)


def test_a_single_changed_character_is_caught():
    code = REAL_CODES[0]
    for i in range(17):
        for c in "0123456789":
            if c == code[i]:
                continue
            changed = code[:i] + c + code[i + 1:]
            if credit_code_check_char(changed[:17]) == changed[17]:
                pytest.fail(f"check character missed a change at position {i}: {changed}")
