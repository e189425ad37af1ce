"""Opening hours read one way (apps.lots.hours): the import stores them, the forecast asks them."""

from datetime import time

import pytest

from apps.lots.hours import normalized_hours, open_at, opening_ranges


@pytest.mark.parametrize(("text", "at", "expected"), [
    ("00:00-24:00", time(0, 0), True),
    ("00:00-24:00", time(23, 59), True),
    ("07:00-22:00", time(6, 59), False),
    ("07:00-22:00", time(7, 0), True),
    ("07:00-22:00", time(21, 59), True),
    ("07:00-22:00", time(22, 0), False),  # the end is when it shuts
    ("22:00-06:00", time(23, 30), True),  # past midnight
    ("22:00-06:00", time(5, 59), True),
    ("22:00-06:00", time(6, 0), False),
    ("22:00-06:00", time(12, 0), False),
    ("07:00-11:30,13:00-22:00", time(12, 0), False),  # the lunch break
    ("07:00-11:30，13:00-22:00", time(13, 0), True),  # a Chinese comma, as staff type it
    ("08:00-08:00", time(3, 0), True),
])
def test_a_lot_is_open_within_its_ranges(text, at, expected):
    assert open_at(text, at) is expected


@pytest.mark.parametrize("text", ["", "全天", "7:00-22:00", "07:00-25:00", "24:00-06:00",
                                  "07:00 - 22:00 周一至周五"])
def test_text_that_is_not_ranges_cannot_say(text):
    assert open_at(text, time(12)) is None


def test_a_trailing_separator_is_only_a_separator():
    assert opening_ranges("07:00-22:00,") == [(420, 1320)]
    assert normalized_hours(" 07:00-11:30 ；13:00-22:00 ") == "07:00-11:30,13:00-22:00"
    assert normalized_hours("07:00-22:00 周一至周五") is None
