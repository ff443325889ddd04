"""Resource ids: ULIDs in creation order, from any number of threads, whatever the clock does."""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Callable

import pytest
from ulid import ULID

from services.ids import UlidGenerator, new_id

CROCKFORD_ULID = re.compile(r"^[0-7][0-9A-HJKMNP-TV-Z]{25}$")
NANOSECONDS_PER_MILLISECOND = 1_000_000
MAX_RANDOM = 2**80 - 1


def milliseconds_of(ulid: str) -> int:
    return ULID.from_str(ulid).milliseconds


def random_part_of(ulid: str) -> int:
    return int.from_bytes(ULID.from_str(ulid).bytes[6:], "big")


def fixed_clock(milliseconds: list[int]) -> Callable[[], int]:
    """A time_ns that reports whatever milliseconds[0] currently says."""
    return lambda: milliseconds[0] * NANOSECONDS_PER_MILLISECOND + 123


def test_new_id_is_a_26_character_uppercase_crockford_ulid() -> None:
    ids = [new_id() for _ in range(100)]
    assert [identifier for identifier in ids if not CROCKFORD_ULID.fullmatch(identifier)] == []
    assert {len(identifier) for identifier in ids} == {26}


def test_ten_thousand_ids_are_unique_and_strictly_increasing() -> None:
    ids = [new_id() for _ in range(10_000)]
    assert len(set(ids)) == 10_000
    assert sorted(ids) == ids
    assert [pair for pair in itertools.pairwise(ids) if pair[0] >= pair[1]] == []


def test_ids_made_by_several_threads_at_once_are_unique() -> None:
    threads_count, per_thread = 8, 2_000
    made: list[list[str]] = [[] for _ in range(threads_count)]
    start = threading.Barrier(threads_count)

    def make(bucket: list[str]) -> None:
        start.wait()
        bucket.extend(new_id() for _ in range(per_thread))

    threads = [threading.Thread(target=make, args=(bucket,)) for bucket in made]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    every_id = [identifier for bucket in made for identifier in bucket]
    assert len(every_id) == threads_count * per_thread
    assert len(set(every_id)) == threads_count * per_thread
    assert [bucket == sorted(bucket) for bucket in made] == [True] * threads_count


def test_within_one_millisecond_the_random_part_counts_up(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1_700_000_000_000]
    monkeypatch.setattr("services.ids.time.time_ns", fixed_clock(now))
    generator = UlidGenerator()

    ids = [generator.new() for _ in range(5)]

    assert [milliseconds_of(identifier) for identifier in ids] == [now[0]] * 5
    first = random_part_of(ids[0])
    assert [random_part_of(identifier) for identifier in ids] == [first + n for n in range(5)]


@pytest.mark.parametrize("step_back_ms", [1, 1_000, 3_600_000])
def test_stays_monotonic_when_the_clock_steps_back(
    monkeypatch: pytest.MonkeyPatch, step_back_ms: int
) -> None:
    now = [1_700_000_000_000]
    monkeypatch.setattr("services.ids.time.time_ns", fixed_clock(now))
    generator = UlidGenerator()
    before = generator.new()

    now[0] -= step_back_ms
    after_step = [generator.new() for _ in range(3)]

    assert sorted([before, *after_step]) == [before, *after_step]
    assert len({before, *after_step}) == 4
    # The id keeps the last timestamp rather than going back with the clock.
    assert [milliseconds_of(identifier) for identifier in after_step] == [now[0] + step_back_ms] * 3
    assert random_part_of(after_step[0]) == random_part_of(before) + 1


def test_clock_moving_on_after_a_step_back_gives_fresh_timestamps(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [1_700_000_000_000]
    monkeypatch.setattr("services.ids.time.time_ns", fixed_clock(now))
    generator = UlidGenerator()
    before = generator.new()
    now[0] -= 5
    during = generator.new()
    now[0] += 10

    after = generator.new()

    assert before < during < after
    assert milliseconds_of(after) == 1_700_000_000_005


def test_a_full_random_part_moves_on_to_the_next_millisecond(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [1_700_000_000_000]
    monkeypatch.setattr("services.ids.time.time_ns", fixed_clock(now))
    generator = UlidGenerator()
    generator._last_milliseconds = now[0]
    generator._last_random = MAX_RANDOM
    previous = str(ULID.from_bytes(now[0].to_bytes(6, "big") + MAX_RANDOM.to_bytes(10, "big")))

    following = generator.new()
    then = generator.new()

    assert milliseconds_of(following) == now[0] + 1
    assert previous < following < then
    assert milliseconds_of(then) == now[0] + 1
    assert random_part_of(then) == random_part_of(following) + 1
