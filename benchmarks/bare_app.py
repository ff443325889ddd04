"""The ceiling's ceiling: a FastAPI app with one route that returns fixed, pre-serialised bytes
(what /health/live answers), no middleware. The benchmark runs it beside the service with the
same load, so the service's own `/health/live` can be read as a fraction of the framework."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import Response

BODY = b'{"status":"pass","checks":{}}'

app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)


@app.get("/bare")
async def bare() -> Response:
    return Response(content=BODY, media_type="application/health+json")
