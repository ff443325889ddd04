"""Where a response leads: the `Location` of a new resource, and OpenAPI links, how a
response's values feed the next operations (create, then read, update, delete...). Clients and
the stateful fuzzer follow them."""

from __future__ import annotations

from typing import Any

from models.json_document import json_pointer

API = "/api/v1"

LOCATION_HEADER_DOC: dict[str, Any] = {
    "Location": {"description": "Path of the new resource.", "schema": {"type": "string"}}
}


def operation_ref(path: str, method: str) -> str:
    """A JSON Pointer to an operation of this document (RFC 6901 escaping of the path)."""
    return "#" + json_pointer(("paths", path, method))


def link(
    path: str,
    method: str,
    description: str,
    *,
    parameters: dict[str, str] | None = None,
    request_body: dict[str, str] | None = None,
) -> dict[str, Any]:
    found: dict[str, Any] = {
        "operationRef": operation_ref(API + path, method),
        "description": description,
    }
    if parameters:
        found["parameters"] = parameters
    if request_body:
        found["requestBody"] = request_body
    return found


_APPLICATION = {"application_id": "$response.body#/id"}
_CONFIGURATION = {"configuration_id": "$response.body#/id"}
_ONE_APPLICATION = "/applications/{application_id}"
_ONE_CONFIGURATION = "/configurations/{configuration_id}"

APPLICATION_LINKS: dict[str, Any] = {
    "GetApplication": link(
        _ONE_APPLICATION, "get", "Read the application.", parameters=_APPLICATION
    ),
    "UpdateApplication": link(
        _ONE_APPLICATION, "put", "Change the application.", parameters=_APPLICATION
    ),
    "DeleteApplication": link(
        _ONE_APPLICATION, "delete", "Delete the application.", parameters=_APPLICATION
    ),
    "ListApplicationConfigurations": link(
        _ONE_APPLICATION + "/configurations",
        "get",
        "List its configurations.",
        parameters=_APPLICATION,
    ),
    "CreateConfiguration": link(
        "/configurations",
        "post",
        "Create a configuration of this application.",
        request_body={"application_id": "$response.body#/id"},
    ),
}

CONFIGURATION_LINKS: dict[str, Any] = {
    "GetConfiguration": link(
        _ONE_CONFIGURATION, "get", "Read the configuration.", parameters=_CONFIGURATION
    ),
    "UpdateConfiguration": link(
        _ONE_CONFIGURATION, "put", "Replace fields.", parameters=_CONFIGURATION
    ),
    "PatchConfiguration": link(
        _ONE_CONFIGURATION, "patch", "Merge-patch it.", parameters=_CONFIGURATION
    ),
    "DeleteConfiguration": link(
        _ONE_CONFIGURATION, "delete", "Delete it.", parameters=_CONFIGURATION
    ),
    "ListRevisions": link(
        _ONE_CONFIGURATION + "/revisions", "get", "Its history.", parameters=_CONFIGURATION
    ),
    "GetRevision": link(
        _ONE_CONFIGURATION + "/revisions/{revision}",
        "get",
        "This revision.",
        parameters={**_CONFIGURATION, "revision": "$response.body#/revision"},
    ),
    "RestoreRevision": link(
        _ONE_CONFIGURATION + "/revisions/{revision}/restore",
        "post",
        "Restore this revision later.",
        parameters={**_CONFIGURATION, "revision": "$response.body#/revision"},
    ),
    "DiffRevisions": link(
        _ONE_CONFIGURATION + "/diff",
        "get",
        "What changed since revision 1.",
        parameters={**_CONFIGURATION, "from": "1", "to": "$response.body#/revision"},
    ),
}
