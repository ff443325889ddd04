"""The service's HTTP API as this client uses it: the requests it sends and how it reads the
answers (paths, ETags, `Prefer: wait`, `Last-Event-ID`, merge patches)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import httpx

from config_service_client.document import Document, utc_now
from config_service_client.errors import ProtocolViolation, error_from_response
from config_service_client.settings import ClientSettings

API = "/api/v1"
EVENT_STREAM = "text/event-stream"
MERGE_PATCH = "application/merge-patch+json"
PAGE_SIZE = 100
USER_AGENT = "config-service-client/0.1"


def name_segment(name: str) -> str:
    """A name as one path segment: percent-encoded, `/` as %2F, and dots too, so that a name
    `..` stays a name instead of becoming a step up the path."""
    return quote(name, safe="").replace(".", "%2E")


def entity_tag(revision: int) -> str:
    return f'"{revision}"'


def if_match_value(if_match: str | int) -> str:
    """An ETag as given (`"4"`, `*`) or a revision number (4)."""
    return entity_tag(if_match) if isinstance(if_match, int) else if_match


class ServiceApi:
    """Builds the requests of one client (its URL, credentials and timeouts)."""

    def __init__(self, settings: ClientSettings) -> None:
        self.settings = settings

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str | int] | None = None,
        headers: dict[str, str] | None = None,
        body: Any = None,
        media_type: str = "application/json",
        read_timeout: float | None = None,
    ) -> httpx.Request:
        all_headers = {"Accept": "application/json", "User-Agent": USER_AGENT, **(headers or {})}
        if self.settings.credentials is not None:
            all_headers["Authorization"] = self.settings.credentials()
        content = None
        if body is not None:
            content = json.dumps(body, ensure_ascii=False, allow_nan=False).encode()
            all_headers["Content-Type"] = media_type
        timeout = httpx.Timeout(
            self.settings.timeout,
            read=self.settings.timeout if read_timeout is None else read_timeout,
        )
        return httpx.Request(
            method,
            self.settings.base_url + API + path,
            params=params,
            headers=all_headers,
            content=content,
            extensions={"timeout": timeout.as_dict()},
        )

    def values(
        self,
        application: str,
        name: str,
        *,
        etag: str | None = None,
        revision: int | None = None,
        wait_seconds: int | None = None,
        fresh: bool = False,
    ) -> httpx.Request:
        headers: dict[str, str] = {}
        if etag is not None:
            headers["If-None-Match"] = etag
        if wait_seconds is not None:
            headers["Prefer"] = f"wait={wait_seconds}"
        if fresh:
            headers["Cache-Control"] = "no-cache"
        return self.request(
            "GET",
            f"/values/{name_segment(application)}/{name_segment(name)}",
            params={"revision": revision} if revision is not None else None,
            headers=headers,
            read_timeout=None if wait_seconds is None else wait_seconds + self.settings.timeout,
        )

    def applications_named(self, application: str) -> httpx.Request:
        return self.request("GET", "/applications", params={"name": application})

    def configurations_of(self, application_id: str, after: str | None) -> httpx.Request:
        params: dict[str, str | int] = {"limit": PAGE_SIZE}
        if after is not None:
            params["after"] = after
        return self.request("GET", f"/applications/{application_id}/configurations", params=params)

    def configuration(self, configuration_id: str) -> httpx.Request:
        return self.request("GET", f"/configurations/{configuration_id}")

    def revision_of(self, configuration_id: str, revision: int) -> httpx.Request:
        return self.request("GET", f"/configurations/{configuration_id}/revisions/{revision}")

    def events(
        self, application_id: str, last_event_id: int | None, idle_seconds: float
    ) -> httpx.Request:
        headers = {"Accept": EVENT_STREAM}
        if last_event_id is not None:
            headers["Last-Event-ID"] = str(last_event_id)
        return self.request(
            "GET",
            f"/applications/{application_id}/events",
            headers=headers,
            read_timeout=idle_seconds,
        )


def json_body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise ProtocolViolation(
            f"{response.request.method} {response.request.url.path} answered "
            f"{response.status_code} with a body that is no JSON"
        ) from None


def checked(response: httpx.Response, *expected: int) -> httpx.Response:
    """The response, when its status is one of `expected`; else its typed error, raised."""
    if response.status_code in expected:
        return response
    raise error_from_response(response)


def revision_of_response(response: httpx.Response) -> int:
    for text in (response.headers.get("config-revision"), response.headers.get("etag")):
        if text is not None and text.strip('" ').isdigit():
            return int(text.strip('" '))
    raise ProtocolViolation(
        f"{response.request.url.path} answered without a Config-Revision header or ETag"
    )


def document_from_values(response: httpx.Response, application: str, name: str) -> Document:
    value = json_body(response)
    if not isinstance(value, dict):
        raise ProtocolViolation(
            f"{response.request.url.path} answered a document that is no object"
        )
    revision = revision_of_response(response)
    return Document(
        application=application,
        name=name,
        value=value,
        revision=revision,
        etag=response.headers.get("etag", entity_tag(revision)),
        fetched_at=utc_now(),
    )


def document_from_resource(body: Any, application: str) -> tuple[str, Document]:
    """(configuration id, document) from a configuration or revision resource."""
    if not isinstance(body, dict):
        raise ProtocolViolation("a configuration resource is no JSON object")
    try:
        configuration_id = body.get("configuration_id", body.get("id"))
        name, value, revision = body["name"], body["config"], body["revision"]
    except KeyError as missing:
        raise ProtocolViolation(f"a configuration resource without {missing}") from None
    if not (
        isinstance(configuration_id, str)
        and isinstance(name, str)
        and isinstance(value, dict)
        and isinstance(revision, int)
    ):
        raise ProtocolViolation("a configuration resource with fields of the wrong type")
    document = Document(
        application=application,
        name=name,
        value=value,
        revision=revision,
        etag=entity_tag(revision),
        fetched_at=utc_now(),
    )
    return configuration_id, document
