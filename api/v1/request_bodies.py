"""JSON request bodies parsed with the service's limits named, before FastAPI validates them.

Python's parser refuses integers of more than `sys.get_int_max_str_digits()` digits (4,300 by
default: converting between text and int takes quadratic time, so the limit is kept) and nesting
deeper than its recursion limit (about 1,000). FastAPI would answer both with a bare
"There was an error parsing the body" 400; this route class parses the body first and answers
them with a 422 problem naming the limit. Other malformed JSON is left to FastAPI (400), and
the parsed document is handed to it, so a body is parsed only once.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute

_DIGIT_COUNT = re.compile(r"value has (?P<digits>[0-9]+) digits")


class JsonLimitsRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def parse_then_handle(request: Request) -> Response:
            await parse_json_body(request)
            return await handle(request)

        return parse_then_handle


async def parse_json_body(request: Request) -> None:
    if not _is_json(request.headers.get("content-type", "")):
        return
    body = await request.body()
    if not body:
        return
    try:
        document = json.loads(body)
    except json.JSONDecodeError:
        return  # FastAPI reports where the JSON breaks (400 malformed-json)
    except RecursionError:
        max_depth = request.app.state.settings.max_json_depth
        raise _refused(
            "nesting_too_deep",
            f"objects and arrays may be nested at most {max_depth} levels deep "
            "(MAX_JSON_DEPTH); this body nests too deep to be read at all",
        ) from None
    except ValueError as error:
        found = _DIGIT_COUNT.search(str(error))
        if found is None:
            return  # not a limit of ours (bad UTF-8, say): FastAPI answers it
        raise _refused(
            "number_too_long",
            f"integers may have at most {sys.get_int_max_str_digits()} digits "
            f"(one here has {found['digits']}); send longer ones as strings",
        ) from None
    # Starlette's cache of the parsed body, which FastAPI's own `await request.json()` reads.
    request._json = document


def _is_json(content_type: str) -> bool:
    """The content types FastAPI parses as JSON (none given counts, as FastAPI's does)."""
    media_type = content_type.split(";", 1)[0].strip().lower()
    if not media_type:
        return True
    kind, _, subtype = media_type.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


def _refused(rule: str, message: str) -> RequestValidationError:
    return RequestValidationError([{"type": rule, "loc": ("body",), "msg": message, "input": None}])
