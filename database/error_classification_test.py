"""The one classification of driver errors: a metrics kind and a translation for each."""

from __future__ import annotations

import psycopg2
import psycopg2.errors
import pytest

from database.error_classification import (
    _CLASSIFICATION,
    classify_database_error,
    translate_database_error,
)
from database.errors import ConstraintConflict, DatabaseUnavailable, TransactionConflict
from database.pool_events import ERROR_KINDS


def test_every_classified_kind_is_a_known_metrics_label() -> None:
    assert {kind for _, kind, _ in _CLASSIFICATION} | {"pool_exhausted", "other"} == set(
        ERROR_KINDS
    )


@pytest.mark.parametrize(
    ("error", "kind", "translated"),
    [
        (psycopg2.errors.LockNotAvailable(), "lock_timeout", DatabaseUnavailable),
        (psycopg2.errors.QueryCanceled(), "statement_timeout", DatabaseUnavailable),
        (psycopg2.errors.SerializationFailure(), "serialization", TransactionConflict),
        (psycopg2.errors.DeadlockDetected(), "serialization", TransactionConflict),
        (psycopg2.OperationalError(), "connection", DatabaseUnavailable),
        (psycopg2.errors.UniqueViolation(), "integrity", ConstraintConflict),
    ],
)
def test_kind_and_translation_come_from_the_same_row(
    error: psycopg2.Error, kind: str, translated: type[Exception]
) -> None:
    assert classify_database_error(error) == kind
    assert type(translate_database_error(error)) is translated


def test_an_unclassified_error_is_other_and_passes_through() -> None:
    error = psycopg2.ProgrammingError()
    assert classify_database_error(error) == "other"
    assert translate_database_error(error) is error
