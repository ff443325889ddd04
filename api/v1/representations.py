"""What a caller is shown of a configuration or revision that holds secrets.

A caller whose key may reveal the application's secrets (api/auth/authorization.may_reveal, the
one place that decides) gets the values themselves; everyone else the placeholder. The two are
different representations: the revealed one has its own ETag (`"4-revealed"`, see
api/v1/conditional.py) and `Cache-Control: private, no-store`, so no shared cache keeps it and
no revalidation crosses from one to the other. A configuration without secrets has one
representation for everybody.

Every read that shows secret values is audited (services/secret_reveal_service.py): the first
time each caller reveals each revision, as far as this instance remembers
(api/auth/reveal_memory.py, bounded) and the database (which remembers every one).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Annotated, Any

from fastapi import Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from api.app_state import get_database, get_delivery, get_reveal_memory, get_secret_cipher
from api.auth.authorization import actor_of, may_reveal
from api.auth.caller import Caller
from api.auth.reveal_memory import Reveal
from api.v1.conditional import ETAG_HEADER_DOC, entity_tag, none_match
from api.v1.paths import ConfigurationIdPath
from models.configuration import Configuration
from models.versioned import Versioned
from repositories.unit_of_work import unit_of_work_factory
from services.secret_reveal_service import SecretRevealService, reader_of
from services.secret_values.views import Stored, configuration_id_of, masked, view

REVEALED_HEADERS = {"Cache-Control": "private, no-store"}

REVEALED_HEADER_DOC: dict[str, Any] = {
    "Cache-Control": {
        "description": "`private, no-store` when the body shows secret values (the caller's key "
        "may reveal them); absent otherwise.",
        "schema": {"type": "string", "examples": ["private, no-store"]},
    }
}
# OpenAPI entries: a read's 200 with its representation's ETag; a 304 for a read naming it.
SHOWN: dict[int | str, dict[str, Any]] = {
    200: {"headers": {**ETAG_HEADER_DOC, **REVEALED_HEADER_DOC}}
}
NOT_MODIFIED_REPRESENTATION: dict[int | str, dict[str, Any]] = {
    304: {
        "description": "Not modified: If-None-Match named the current ETag.",
        "headers": {**ETAG_HEADER_DOC, **REVEALED_HEADER_DOC},
    }
}


def caller_of(request: Request) -> Caller:
    """The caller `requires` accepted for this request."""
    caller: Caller = request.state.caller
    return caller


def reveals(request: Request, *, application_id: str, secrets: Sequence[str]) -> bool:
    """Whether this request is shown the secret values of a document with these `secrets`."""
    return bool(secrets) and may_reveal(caller_of(request), application_id)


def _unseen(request: Request, revisions: Iterable[tuple[str, int]]) -> list[Reveal]:
    reader = reader_of(actor_of(request, caller_of(request)))
    keys = [(reader, configuration_id, revision) for configuration_id, revision in revisions]
    return get_reveal_memory(request).unseen(keys)


def record_reveals(
    request: Request, *, application_id: str, revisions: Iterable[tuple[str, int]]
) -> None:
    """Audit the reveals of these (configuration id, revision) this instance has not seen
    audited, in one transaction (sync: a threadpool route's)."""
    unseen = _unseen(request, revisions)
    if not unseen:
        return
    service = SecretRevealService(
        unit_of_work_factory(get_database(request)),
        actor=actor_of(request, caller_of(request)),
    )
    service.record(
        application_id=application_id,
        revisions=[(configuration_id, revision) for _, configuration_id, revision in unseen],
    )
    get_reveal_memory(request).remember(unseen)


async def record_reveal(
    request: Request, *, configuration_id: str, application_id: str, revision: int
) -> None:
    """The same for an async route: a repeat costs no thread."""
    if _unseen(request, [(configuration_id, revision)]):
        await run_in_threadpool(
            record_reveals,
            request,
            application_id=application_id,
            revisions=[(configuration_id, revision)],
        )


def shown(request: Request, item: Stored, *, application_id: str) -> Stored:
    """`item` (as stored) as this request's caller sees it (a reveal audited first)."""
    return shown_all(request, [item], application_id=application_id)[0]


def shown_all(request: Request, items: list[Stored], *, application_id: str) -> list[Stored]:
    """Each of `items` (one configuration's revisions, or one application's configurations)
    as the caller sees it; the reveals audited before anything is sent, in one transaction,
    and only once the values did open (a 503 for a missing key shows nothing)."""
    revealing = [
        reveals(request, application_id=application_id, secrets=item.secrets) for item in items
    ]
    cipher = get_secret_cipher(request)
    views = [
        view(item, reveal=shows, cipher=cipher)
        for item, shows in zip(items, revealing, strict=True)
    ]
    record_reveals(
        request,
        application_id=application_id,
        revisions=[
            (configuration_id_of(item), item.revision)
            for item, shows in zip(items, revealing, strict=True)
            if shows
        ],
    )
    return views


def shown_page(
    request: Request, response: Response, items: list[Stored], *, application_id: str
) -> list[Stored]:
    """A page of `items` as the caller sees it (see shown_all), with `Cache-Control: private,
    no-store` when it shows secret values: a revealed page is no more for a shared cache than
    a revealed configuration."""
    page = shown_all(request, items, application_id=application_id)
    if any(reveals(request, application_id=application_id, secrets=item.secrets) for item in items):
        response.headers.update(REVEALED_HEADERS)
    return page


def present(
    request: Request,
    response: Response,
    resource: Versioned[Stored],
    *,
    application_id: str,
    if_none_match: str | None = None,
) -> Any:
    """The resource as the caller sees it, with the ETag of that representation (and
    `Cache-Control: private, no-store` when it reveals secrets); a bare 304 instead when the
    read's If-None-Match names that ETag (a 304 shows nothing, so it is not audited)."""
    item = resource.value
    revealing = reveals(request, application_id=application_id, secrets=item.secrets)
    etag = entity_tag(resource.version, revealed=revealing)
    headers = {"ETag": etag, **(REVEALED_HEADERS if revealing else {})}
    if none_match(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    body = shown(request, item, application_id=application_id)
    response.headers.update(headers)
    return body


def written(response: Response, resource: Versioned[Configuration]) -> Configuration:
    """A write's answer: the configuration it left, masked for every caller (a write is no
    read: its answer, often logged by the tools that deploy, never shows secret values, and
    an answer that could not be audited never follows a write that was made). Its ETag is the
    masked representation's; If-Match accepts it as naming the revision."""
    response.headers["ETag"] = entity_tag(resource.version)
    return masked(resource.value)


async def configuration_owner(request: Request, configuration_id: ConfigurationIdPath) -> str:
    """The id of the application that owns the path's configuration ("" when none does: the
    route's own read answers that with its 404)."""
    return await get_delivery(request).owner_of(configuration_id) or ""


OwnerDep = Annotated[str, Depends(configuration_owner)]
