"""OpenAPI entries for problem responses: what each status means, with an example body."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from api.problems.schema import PROBLEM_MEDIA_TYPE, PROBLEM_TYPE_PREFIX, Problem

_DESCRIPTIONS = {
    400: "The body is not valid JSON.",
    401: "No bearer token; an API key that is unknown, revoked or expired; or an identity token "
    "that does not verify, with `reason` saying why (`WWW-Authenticate: Bearer`).",
    403: "The caller's role does not allow this on this application, or a verified identity "
    "token that no binding lets in.",
    404: "No such resource.",
    409: "The name is already taken.",
    413: "The body is larger than MAX_BODY_BYTES.",
    412: "If-Match does not name the current ETag, or If-None-Match does (or is `*`); the body "
    "gives the current revision.",
    415: "The body is not sent with a supported Content-Type.",
    422: "The request breaks a rule; `errors` names each field and rule.",
    428: "REQUIRE_IF_MATCH is on and the write has no If-Match header.",
    503: "The database is unreachable, slow or every connection is busy; retry later.",
}

_EXAMPLES: dict[int, dict[str, Any]] = {
    401: {
        "type": PROBLEM_TYPE_PREFIX + "invalid-token",
        "title": "Identity token refused",
        "status": 401,
        "detail": "the identity token is refused (expired): the token has expired (exp)",
        "instance": "/api/v1/applications",
        "reason": "expired",
    },
    403: {
        "type": "about:blank",
        "title": "Forbidden",
        "status": 403,
        "detail": "the API key k7d2m4qx has the role 'read'; this needs 'write'",
        "instance": "/api/v1/configurations/01JQ3V7B2D4F6H8K0M2P4R6T8V",
    },
    400: {
        "type": PROBLEM_TYPE_PREFIX + "malformed-json",
        "title": "Malformed JSON body",
        "status": 400,
        "detail": "the body is not valid JSON: Expecting value",
        "instance": "/api/v1/applications",
        "errors": [
            {
                "location": "body",
                "field": "",
                "rule": "json_invalid",
                "message": "the body is not valid JSON: Expecting value",
                "pointer": "",
            }
        ],
    },
    404: {
        "type": PROBLEM_TYPE_PREFIX + "not-found",
        "title": "Resource not found",
        "status": 404,
        "detail": "application 01JQ3V6KX8Q7M4Z2W9R5T1N0BC does not exist",
        "instance": "/api/v1/applications/01JQ3V6KX8Q7M4Z2W9R5T1N0BC",
    },
    409: {
        "type": PROBLEM_TYPE_PREFIX + "conflict",
        "title": "Conflict with the current state",
        "status": 409,
        "detail": "an application named 'billing-service' already exists",
        "instance": "/api/v1/applications",
    },
    413: {
        "type": "about:blank",
        "title": "Content Too Large",
        "status": 413,
        "detail": "Request body is too large",
        "instance": "/api/v1/configurations",
    },
    415: {
        "type": "about:blank",
        "title": "Unsupported Media Type",
        "status": 415,
        "detail": "send the body as application/json (got 'text/plain')",
        "instance": "/api/v1/applications",
    },
    412: {
        "type": PROBLEM_TYPE_PREFIX + "precondition-failed",
        "title": "Precondition failed",
        "status": 412,
        "detail": "configuration 01JQ3V7B2D4F6H8K0M2P4R6T8V is at revision 4, which the "
        "If-Match header does not name; fetch it again and retry with its ETag",
        "instance": "/api/v1/configurations/01JQ3V7B2D4F6H8K0M2P4R6T8V",
        "current_revision": 4,
        "current_etag": '"4"',
    },
    428: {
        "type": "about:blank",
        "title": "Precondition Required",
        "status": 428,
        "detail": "this server requires If-Match on writes: GET the resource and send its "
        "ETag in If-Match (or If-Match: * to overwrite whatever is there)",
        "instance": "/api/v1/configurations/01JQ3V7B2D4F6H8K0M2P4R6T8V",
    },
    422: {
        "type": PROBLEM_TYPE_PREFIX + "validation-error",
        "title": "Request failed validation",
        "status": 422,
        "detail": "comment: unknown field 'comment'",
        "instance": "/api/v1/applications",
        "errors": [
            {
                "location": "body",
                "field": "comment",
                "rule": "extra_forbidden",
                "message": "unknown field 'comment': it is not part of this request's schema",
                "pointer": "/comment",
            }
        ],
    },
    503: {
        "type": PROBLEM_TYPE_PREFIX + "database-unavailable",
        "title": "Database unavailable",
        "status": 503,
        "detail": "no database connection became free within 2 seconds; retry after 1 s",
        "instance": "/api/v1/applications",
    },
}


# A route that reads or writes secret values can also give these.
_SECRETS_DESCRIPTIONS = {
    403: " Or: the write would leave a stored secret value outside every secret location (it "
    "unmarks a secret whose value stays), and the caller may not reveal secrets (type "
    "`secret-would-show`, rule `secret_reveal_needed` naming each location).",
    422: " A configuration that marks or holds secrets needs SECRETS_KEYS set (rule "
    "`secrets_keys_not_set`).",
    503: " Or: a stored secret value cannot be decrypted, because SECRETS_KEYS lacks the key it "
    "names (type `secrets-key-unavailable`): an operator must add it back.",
}
_SECRETS_EXAMPLES: dict[int, dict[str, Any]] = {
    403: {
        "type": PROBLEM_TYPE_PREFIX + "secret-would-show",
        "title": "The write would show a secret value",
        "status": 403,
        "detail": "this write would show the stored value of the secret /database/password of "
        "configuration 01JQ3V7B2D4F6H8K0M2P4R6T8V to every caller (it leaves the value, or part "
        "of it, outside every secret location), and this caller may not reveal secrets: keep it "
        "in `secrets`, remove or replace the value in the same write, or make the change with a "
        "key that may reveal secrets",
        "instance": "/api/v1/configurations/01JQ3V7B2D4F6H8K0M2P4R6T8V",
        "errors": [
            {
                "location": "body",
                "field": "secrets",
                "rule": "secret_reveal_needed",
                "message": "the secret at /database/password would show to every caller; only "
                "a key that may reveal secrets can unmark it while its value stays",
                "pointer": "/config/database/password",
            }
        ],
    },
    422: {
        "type": PROBLEM_TYPE_PREFIX + "validation-error",
        "title": "Request failed validation",
        "status": 422,
        "detail": "secrets: this service has no encryption key for secrets: set SECRETS_KEYS (a "
        "keyring of <id>:<base64 of 32 random bytes>) to store secret values",
        "instance": "/api/v1/configurations",
        "errors": [
            {
                "location": "body",
                "field": "secrets",
                "rule": "secrets_keys_not_set",
                "message": "this service has no encryption key for secrets: set SECRETS_KEYS (a "
                "keyring of <id>:<base64 of 32 random bytes>) to store secret values",
                "pointer": "/secrets",
            }
        ],
    },
    503: {
        "type": PROBLEM_TYPE_PREFIX + "secrets-key-unavailable",
        "title": "Secret values cannot be decrypted",
        "status": 503,
        "detail": "a secret of configuration 01JQ3V7B2D4F6H8K0M2P4R6T8V is encrypted under the "
        "key 'k1', which SECRETS_KEYS does not list; add that key back to SECRETS_KEYS (after "
        "the key that encrypts) to read or change it",
        "instance": "/api/v1/configurations/01JQ3V7B2D4F6H8K0M2P4R6T8V",
        "key_id": "k1",
    },
}


def problem_responses(*statuses: int, secrets: bool = False) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the problem responses a route can give (with `secrets`, also the
    ones of secret values that need a key)."""
    responses: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        media: dict[str, Any] = {"example": _EXAMPLES[status]}
        description = _DESCRIPTIONS[status]
        if secrets and status in _SECRETS_EXAMPLES:
            description += _SECRETS_DESCRIPTIONS[status]
            media = {
                "examples": {
                    "usual": {"value": _EXAMPLES[status]},
                    "secrets": {"value": _SECRETS_EXAMPLES[status]},
                }
            }
        entry: dict[str, Any] = {
            "model": Problem,
            "description": description,
            "content": {PROBLEM_MEDIA_TYPE: media},
        }
        if status == HTTPStatus.UNAUTHORIZED:
            entry["headers"] = {
                "WWW-Authenticate": {
                    "description": '`Bearer`, with `error="invalid_token"` when a token was sent.',
                    "schema": {"type": "string"},
                }
            }
        if status == HTTPStatus.SERVICE_UNAVAILABLE:
            entry["headers"] = {
                "Retry-After": {
                    "description": "Seconds to wait before retrying.",
                    "schema": {"type": "integer"},
                }
            }
        responses[status] = entry
    return responses
