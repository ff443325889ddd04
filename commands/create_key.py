"""`pipenv run create-key --role admin --name ...`: make an API key and print it, once.

It works on an empty database (the first admin key comes from here), on the database the
settings name (the embedded one when DATABASE_URL is unset). It applies no migrations: when the
schema is not current it says so and which command to run.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime

from pydantic import ValidationError

from commands.startup import StartupFailed, prepare_database
from config.settings import Settings, SettingsError, load_settings
from database.pool import Database
from models.api_key import ApiKeyCreate, ApiKeyCreated, Role
from models.audit import COMMAND_LINE, Actor
from repositories.unit_of_work import unit_of_work_factory
from services.api_key_service import ApiKeyService
from services.errors import InvalidRequest


def create_key(
    settings: Settings, data: ApiKeyCreate, *, actor: Actor = COMMAND_LINE
) -> ApiKeyCreated:
    """The new key, on the settings' database (whose schema must be current)."""
    prepared = prepare_database(settings, migrate=False)
    if not prepared.answered:
        raise StartupFailed("the database does not answer; no key was made")
    small = settings.model_copy(update={"database_pool_min_size": 1, "database_pool_max_size": 1})
    database = Database.from_settings(small, prepared.url)
    try:
        service = ApiKeyService(unit_of_work_factory(database), pepper=settings.pepper)
        return service.create(data=data, actor=actor)
    finally:
        database.close()


def describe(created: ApiKeyCreated) -> str:
    scope = "every application" if created.applications is None else ", ".join(created.applications)
    expires = "never" if created.expires_at is None else created.expires_at.isoformat()
    secrets = "reveals secret values" if created.reveal_secrets else "sees secrets masked"
    return (
        f"API key {created.name!r} (id {created.id}), role {created.role.value}, reaches "
        f"{scope}, {secrets}, expires {expires}. It is shown only now; store it:\n{created.key}"
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="create-key", description=__doc__.split("\n\n")[0])
    parser.add_argument("--name", required=True, help="who or what will use the key")
    parser.add_argument("--role", required=True, choices=[role.value for role in Role])
    parser.add_argument(
        "--application",
        action="append",
        dest="applications",
        metavar="ID",
        help="an application id the key reaches (repeat for more; leave out for all)",
    )
    parser.add_argument(
        "--expires-at", help="when the key stops working, e.g. 2027-01-01T00:00:00Z"
    )
    parser.add_argument(
        "--reveal-secrets",
        action="store_true",
        help="its reads show secret values in plain text (otherwise the placeholder ********)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    try:
        settings = load_settings()
        data = ApiKeyCreate.model_validate(
            {
                "name": arguments.name,
                "role": arguments.role,
                "applications": arguments.applications,
                "reveal_secrets": arguments.reveal_secrets,
                "expires_at": (
                    None
                    if arguments.expires_at is None
                    else datetime.fromisoformat(arguments.expires_at)
                ),
            },
            strict=False,
        )
        print(describe(create_key(settings, data)))
    except SettingsError as error:
        print(error, file=sys.stderr)
        return 2
    except (ValidationError, ValueError, InvalidRequest) as error:
        print(f"create-key: {error}", file=sys.stderr)
        return 2
    except StartupFailed as error:
        print(f"create-key: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
