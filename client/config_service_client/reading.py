"""Reading configurations: by name with ETag revalidation, the last good document in memory
and on disk, and the stale fallback when the service cannot answer."""

from __future__ import annotations

import logging

import httpx

from config_service_client.commands import Steps, exchange
from config_service_client.disk_cache import DiskCache
from config_service_client.document import Document
from config_service_client.errors import (
    ConfigServiceError,
    NotFound,
    ProblemError,
    ProtocolViolation,
    ServiceUnreachable,
)
from config_service_client.service_api import (
    ServiceApi,
    checked,
    document_from_resource,
    document_from_values,
    json_body,
)
from config_service_client.settings import ClientSettings

logger = logging.getLogger("config_service_client")
OK, NOT_MODIFIED = 200, 304


def describe_failure(error: Exception) -> str:
    """A transport failure in words (httpx's own message may be empty, as for timeouts)."""
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__


def may_serve_stale(error: Exception) -> bool:
    """Whether, instead of this failure, the last good document may be served: the service
    could not answer (no connection, a 429, a 5xx), as opposed to answering no."""
    return isinstance(error, httpx.TransportError | ProtocolViolation) or (
        isinstance(error, ProblemError) and error.retryable
    )


class Reader:
    def __init__(self, settings: ClientSettings) -> None:
        self.api = ServiceApi(settings)
        self.disk = (
            DiskCache(settings.cache_dir, settings.base_url)
            if settings.cache_dir is not None
            else None
        )
        self.memory: dict[tuple[str, str], Document] = {}
        self.application_ids: dict[str, str] = {}

    def keep(self, document: Document) -> None:
        """`document` is the last good one (what a caller now runs on)."""
        self.memory[(document.application, document.name)] = document
        if self.disk is not None:
            self.disk.store(document)

    def forget(self, application: str, name: str) -> None:
        self.memory.pop((application, name), None)
        if self.disk is not None:
            self.disk.forget(application, name)

    def last_good(self, application: str, name: str) -> Document | None:
        known = self.memory.get((application, name))
        if known is None and self.disk is not None:
            known = self.disk.load(application, name)
        return known.as_stale() if known is not None else None

    def get(self, application: str, name: str) -> Steps[Document]:
        """The current document; the last good one, marked stale, when the service cannot
        answer; an error when it answers no (404, 401, 403) or nothing good is kept."""
        try:
            document = yield from self.current(application, name)
        except NotFound:
            self.forget(application, name)
            raise
        except (httpx.TransportError, ConfigServiceError) as error:
            if not may_serve_stale(error):
                raise
            return self._stale_or_raise(application, name, error)
        self.keep(document)
        return document

    def _stale_or_raise(self, application: str, name: str, error: Exception) -> Document:
        stale = self.last_good(application, name)
        reason = describe_failure(error)
        if stale is None:
            if isinstance(error, ConfigServiceError):
                raise error
            cached = "nothing cached" if self.disk else "no cache_dir to fall back on"
            raise ServiceUnreachable(
                f"cannot reach {self.api.settings.base_url} for {application}/{name} "
                f"({reason}) and {cached}"
            ) from error
        logger.warning(
            "serving the last good document of %s/%s (revision %d, fetched %s, %.0f s ago): "
            "the service did not answer (%s)",
            application,
            name,
            stale.revision,
            stale.fetched_at.isoformat(timespec="seconds"),
            stale.age.total_seconds(),
            reason,
        )
        return stale

    def current(self, application: str, name: str, *, fresh: bool = False) -> Steps[Document]:
        """The current document from the service, revalidated with the ETag in memory (a 304
        costs no parse); `fresh`: read by the service from PostgreSQL, not its memory."""
        known = self.memory.get((application, name))
        request = self.api.values(
            application, name, etag=known.etag if known else None, fresh=fresh
        )
        response = checked((yield from exchange(request)), OK, NOT_MODIFIED)
        if response.status_code == NOT_MODIFIED and known is not None:
            document = known.confirmed()
        else:
            document = document_from_values(response, application, name)
        self.memory[(application, name)] = document
        return document

    def long_poll(
        self, application: str, name: str, etag: str, wait_seconds: int
    ) -> Steps[Document | bool]:
        """The document once it is no longer `etag`; else whether the service waited (False:
        something on the way, a proxy say, dropped `Prefer: wait`)."""
        request = self.api.values(application, name, etag=etag, wait_seconds=wait_seconds)
        response = checked((yield from exchange(request)), OK, NOT_MODIFIED)
        if response.status_code == NOT_MODIFIED:
            return "preference-applied" in response.headers
        return document_from_values(response, application, name)

    def at_revision(self, application: str, name: str, revision: int) -> Steps[Document]:
        request = self.api.values(application, name, revision=revision)
        response = checked((yield from exchange(request)), 200)
        return document_from_values(response, application, name)

    def application_id(self, application: str) -> Steps[str]:
        known = self.application_ids.get(application)
        if known is not None:
            return known
        request = self.api.applications_named(application)
        response = checked((yield from exchange(request)), 200)
        found = json_body(response)
        if not isinstance(found, list):
            raise ProtocolViolation("the list of applications is no JSON array")
        for item in found:
            if isinstance(item, dict) and item.get("name") == application:
                application_id = str(item["id"])
                self.application_ids[application] = application_id
                return application_id
        raise NotFound(
            404, {"title": "Not Found", "detail": f"no application is named {application!r}"}, None
        )

    def configurations(self, application: str) -> Steps[dict[str, Document]]:
        """Every configuration of `application`, by configuration id (page by page)."""
        application_id = yield from self.application_id(application)
        found: dict[str, Document] = {}
        after: str | None = None
        while True:
            request = self.api.configurations_of(application_id, after)
            response = checked((yield from exchange(request)), 200)
            page = json_body(response)
            if not isinstance(page, list):
                raise ProtocolViolation("the list of configurations is no JSON array")
            for item in page:
                configuration_id, document = document_from_resource(item, application)
                found[configuration_id] = document
                after = configuration_id
            if not page or "next" not in response.links:
                return found

    def revision_by_id(
        self, application: str, configuration_id: str, revision: int
    ) -> Steps[Document]:
        request = self.api.revision_of(configuration_id, revision)
        response = checked((yield from exchange(request)), 200)
        return document_from_resource(json_body(response), application)[1]
