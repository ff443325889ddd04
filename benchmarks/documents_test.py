"""The data set's documents have the sizes the benchmark names."""

from __future__ import annotations

import pytest

from benchmarks.documents import (
    HUGE_BYTES,
    LARGE_BYTES,
    QUICK,
    SECRET_PASSWORD,
    SMALL_BYTES,
    DataSet,
    document,
    serialised_size,
)


@pytest.mark.parametrize("size", [SMALL_BYTES, LARGE_BYTES, HUGE_BYTES])
@pytest.mark.parametrize("index", [0, 7, 12_345])
def test_a_document_is_exactly_the_size_asked(size: int, index: int) -> None:
    assert serialised_size(document(index, size)) == size


def test_a_size_below_the_fixed_part_gives_the_fixed_part() -> None:
    assert serialised_size(document(1, 10)) == serialised_size(document(1, 0))
    assert document(1, 10)["notes"] == ""


def test_documents_differ_by_index_and_only_secret_ones_hold_the_password() -> None:
    assert document(1, SMALL_BYTES) != document(2, SMALL_BYTES)
    assert document(1, SMALL_BYTES, secret=True)["database"]["password"] == SECRET_PASSWORD
    assert document(1, SMALL_BYTES)["database"]["password"] != SECRET_PASSWORD


def test_the_default_data_set_is_the_issues_and_quick_is_smaller() -> None:
    full = DataSet()
    assert full.applications == 1_000
    assert full.configurations == 10_000
    assert full.total_after_extra == 110_107
    assert full.listed > full.deep_after + 99
    assert QUICK.listed >= QUICK.deep_after + 100
    assert QUICK.total_after_extra < full.total_after_extra
