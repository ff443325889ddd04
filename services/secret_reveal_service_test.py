"""Reveals are audited once per reader and revision, however many instances read it."""

from __future__ import annotations

import secrets

from database.pool import Database
from models.audit import Actor, AuditFilter
from repositories.unit_of_work import unit_of_work_factory
from services.secret_reveal_service import SecretRevealService, reader_of


def test_each_reader_reveals_each_revision_once(database: Database) -> None:
    configuration_id = "7" + secrets.token_hex(13).upper()[:25]
    reader = Actor(key_id="01JQ3V8C5E7G9J1M3P5S7V9X1Z", key_name="deployer", request_id="r1")
    other = Actor(key_id="01JQ3V8C5E7G9J1M3P5S7V9X2A", key_name="dashboard")
    factory = unit_of_work_factory(database)

    first = SecretRevealService(factory, actor=reader).record(
        application_id="A", revisions=[(configuration_id, 1), (configuration_id, 2)]
    )
    # Another instance, which does not remember: the database does.
    again = SecretRevealService(factory, actor=reader).record(
        application_id="A", revisions=[(configuration_id, 2), (configuration_id, 2)]
    )
    by_other = SecretRevealService(factory, actor=other).record(
        application_id="A", revisions=[(configuration_id, 2)]
    )

    assert (first, again, by_other) == (2, 0, 1)
    with factory() as uow:
        records = uow.audit.list_page(
            where=AuditFilter(configuration_id=configuration_id), before=None, limit=10
        )
    assert [
        (record.action, record.key_name, record.revision_after, record.request_id)
        for record in records
    ] == [
        ("configuration.revealed", "dashboard", 2, None),
        ("configuration.revealed", "deployer", 2, "r1"),
        ("configuration.revealed", "deployer", 1, "r1"),
    ]


def test_readers_are_told_apart_by_key_identity_or_name() -> None:
    identity = Actor(
        key_id=None,
        key_name=None,
        issuer="https://issuer.example",
        subject="ci",
        binding_ids=("b",),
    )

    assert reader_of(Actor(key_id="K1", key_name="x")) == "K1"
    assert reader_of(identity) == "identity https://issuer.example ci"
    assert reader_of(Actor(key_id=None, key_name="create-key command")) == (
        "name create-key command"
    )
