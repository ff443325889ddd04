"""Writes, for scripts and CI pipelines: create, replace (optionally only if unchanged since an
ETag) and merge-patch a configuration's document, and delete it. Each answers the document as
written (a `Document`, `etag` ready for the next `If-Match`)."""

from __future__ import annotations

from typing import Any

from config_service_client.commands import Steps, exchange
from config_service_client.document import Document
from config_service_client.errors import NotFound
from config_service_client.reading import Reader
from config_service_client.service_api import (
    MERGE_PATCH,
    checked,
    document_from_resource,
    if_match_value,
    json_body,
)


class Writer:
    def __init__(self, reader: Reader) -> None:
        self.reader = reader
        self.api = reader.api
        self.configuration_ids: dict[tuple[str, str], str] = {}

    def create(
        self,
        application: str,
        name: str,
        value: dict[str, Any],
        *,
        schema: dict[str, Any] | None = None,
        comments: str | None = None,
        message: str | None = None,
    ) -> Steps[Document]:
        application_id = yield from self.reader.application_id(application)
        body: dict[str, Any] = {"application_id": application_id, "name": name, "config": value}
        for key, given in (("schema", schema), ("comments", comments), ("message", message)):
            if given is not None:
                body[key] = given
        request = self.api.request("POST", "/configurations", body=body)
        return (yield from self._written(request, application, 201))

    def update(
        self,
        application: str,
        name: str,
        value: dict[str, Any],
        *,
        if_match: str | int | None = None,
        message: str | None = None,
    ) -> Steps[Document]:
        body: dict[str, Any] = {"config": value}
        if message is not None:
            body["message"] = message
        return (yield from self._change("PUT", application, name, body, if_match, None))

    def patch(
        self,
        application: str,
        name: str,
        changes: dict[str, Any],
        *,
        if_match: str | int | None = None,
        message: str | None = None,
    ) -> Steps[Document]:
        body: dict[str, Any] = {"config": changes}
        if message is not None:
            body["message"] = message
        return (yield from self._change("PATCH", application, name, body, if_match, MERGE_PATCH))

    def delete(
        self, application: str, name: str, *, if_match: str | int | None = None
    ) -> Steps[None]:
        configuration_id = yield from self._configuration_id(application, name)
        headers = {"If-Match": if_match_value(if_match)} if if_match is not None else {}
        request = self.api.request("DELETE", f"/configurations/{configuration_id}", headers=headers)
        checked((yield from exchange(request)), 204)
        self.configuration_ids.pop((application, name), None)
        self.reader.forget(application, name)

    def _change(
        self,
        method: str,
        application: str,
        name: str,
        body: dict[str, Any],
        if_match: str | int | None,
        media_type: str | None,
    ) -> Steps[Document]:
        configuration_id = yield from self._configuration_id(application, name)
        headers = {"If-Match": if_match_value(if_match)} if if_match is not None else {}
        request = self.api.request(
            method,
            f"/configurations/{configuration_id}",
            headers=headers,
            body=body,
            media_type=media_type or "application/json",
        )
        try:
            return (yield from self._written(request, application, 200))
        except NotFound:
            self.configuration_ids.pop((application, name), None)  # find it afresh next time
            raise

    def _still_named(self, configuration_id: str, application: str, name: str) -> Steps[bool]:
        try:
            response = checked((yield from exchange(self.api.configuration(configuration_id))), 200)
        except NotFound:
            return False
        _, document = document_from_resource(json_body(response), application)
        return document.name == name

    def _written(self, request: Any, application: str, status: int) -> Steps[Document]:
        response = checked((yield from exchange(request)), status)
        configuration_id, document = document_from_resource(json_body(response), application)
        self.configuration_ids[(application, document.name)] = configuration_id
        return document

    def _configuration_id(self, application: str, name: str) -> Steps[str]:
        """The id of the configuration that has `name` now. An id kept from an earlier write is
        checked first: the configuration may have been renamed away since (and another
        created under the name), and a write by name must never reach the renamed one."""
        known = self.configuration_ids.pop((application, name), None)
        if known is not None and (yield from self._still_named(known, application, name)):
            self.configuration_ids[(application, name)] = known
            return known
        configurations = yield from self.reader.configurations(application)
        for configuration_id, document in configurations.items():
            self.configuration_ids[(application, document.name)] = configuration_id
        found = self.configuration_ids.get((application, name))
        if found is None:
            detail = f"application {application!r} has no configuration named {name!r}"
            raise NotFound(404, {"title": "Not Found", "detail": detail}, None)
        return found
