"""Several simulator processes share one city without two of them driving the same lot."""

import argparse
import random

import pytest

from apps.demo.management.commands.simulate_city import Command, _shard
from tests.factories import LotFactory


@pytest.mark.parametrize("text, expected", [("0/1", (0, 1)), ("3/4", (3, 4))])
def test_a_shard_is_k_of_n(text, expected):
    assert _shard(text) == expected


@pytest.mark.parametrize("text", ["4/4", "-1/4", "1/0", "1", "a/b", "1/2/3"])
def test_a_shard_outside_0_to_n_is_refused(text):
    with pytest.raises(argparse.ArgumentTypeError):
        _shard(text)


@pytest.mark.django_db
def test_shards_split_the_lots_without_overlap():
    codes = {LotFactory(total_berths=10, free_berths=10).code for _ in range(7)}
    picked = []
    for index in range(3):
        command = Command()
        command.shard = (index, 3)
        picked.append({lot.code for lot in command._pick_lots(100, random.Random(index))})

    assert set().union(*picked) == codes
    assert sum(len(shard) for shard in picked) == len(codes)
    assert sorted(len(shard) for shard in picked) == [2, 2, 3]
