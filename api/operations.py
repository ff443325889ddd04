"""Routes for operators: health, in the `application/health+json` style
(draft-inadarsh-health-check), and Prometheus metrics.

`/health/live` says the process answers; it never touches the database. `/health/ready` says
the service can do its job: it is not shutting down, the database answers, and the schema is
the one this code expects. Neither is rate-limited, authenticated or logged at info level.
`/metrics` serves the registry (api/edge/metrics.py) in the text exposition format; it is open
unless METRICS_REQUIRE_KEY is set.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import Field

from api.app_state import get_metrics, get_readiness, is_draining
from api.auth.authorization import metrics_key
from api.edge.hot_routes import served_raw
from database.readiness import CheckOutcome, ReadinessProbe
from models.base import ApiModel

HEALTH_MEDIA_TYPE = "application/health+json"

HealthStatus = Literal["pass", "fail"]


class HealthJsonResponse(JSONResponse):
    media_type = HEALTH_MEDIA_TYPE


class HealthCheck(ApiModel):
    status: HealthStatus
    output: str | None = Field(default=None, description="Why the check failed.")
    time: datetime = Field(description="When the check ran.")


class HealthReport(ApiModel):
    status: HealthStatus
    checks: dict[str, list[HealthCheck]] = Field(
        default_factory=dict,
        examples=[
            {
                "postgresql:connection": [{"status": "pass", "time": "2025-01-01T00:00:00Z"}],
                "postgresql:schema": [{"status": "pass", "time": "2025-01-01T00:00:00Z"}],
                "service:shutdown": [{"status": "pass", "time": "2025-01-01T00:00:00Z"}],
            }
        ],
    )


def _check(outcome: CheckOutcome, checked_at: str) -> dict[str, Any]:
    entry: dict[str, Any] = {"status": "pass" if outcome.passed else "fail", "time": checked_at}
    if outcome.output is not None:
        entry["output"] = outcome.output
    return entry


def readiness_report(*, draining: bool, probe: ReadinessProbe | None) -> dict[str, Any]:
    checked_at = datetime.now(UTC).isoformat(timespec="milliseconds")
    shutdown = CheckOutcome(passed=not draining, output="shutting down" if draining else None)
    if probe is None:
        connection = CheckOutcome(passed=False, output="the service is still starting")
        schema = connection
    else:
        connection = probe.check_connection()
        schema = probe.check_schema(database_answers=connection.passed)
    checks = {
        "service:shutdown": shutdown,
        "postgresql:connection": connection,
        "postgresql:schema": schema,
    }
    passed = all(outcome.passed for outcome in checks.values())
    return {
        "status": "pass" if passed else "fail",
        "checks": {name: [_check(outcome, checked_at)] for name, outcome in checks.items()},
    }


router = APIRouter(tags=["operations"])

_ALIVE = b'{"status":"pass","checks":{}}'


async def _alive(_: Request) -> Response:
    return Response(_ALIVE, media_type=HEALTH_MEDIA_TYPE)


@router.get(
    "/health/live",
    summary="Liveness: the process answers",
    response_model=HealthReport,
    response_class=HealthJsonResponse,
    response_model_exclude_none=True,
)
@served_raw(_alive)  # answered by the edge (api/edge/hot_routes.py): the benchmark's ceiling
async def live(request: Request) -> Response:
    return await _alive(request)


@router.get(
    "/health/ready",
    summary="Readiness: the database answers and its schema is current",
    response_model=HealthReport,
    response_class=HealthJsonResponse,
    responses={
        503: {
            "model": HealthReport,
            "description": "Not ready: shutting down, the database does not answer, or its "
            "schema is not current. The failing checks say which.",
        }
    },
)
def ready(request: Request) -> HealthJsonResponse:
    report = readiness_report(draining=is_draining(request), probe=get_readiness(request))
    return HealthJsonResponse(report, status_code=200 if report["status"] == "pass" else 503)


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    description="Open, unless METRICS_REQUIRE_KEY=true: then it needs an admin key.",
    dependencies=[Depends(metrics_key)],
    response_class=Response,
    responses={
        200: {
            "description": "Metrics in the Prometheus text exposition format (see README).",
            "content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}},
        }
    },
)
def read_metrics(request: Request) -> Response:
    return Response(get_metrics(request).exposition(), media_type=CONTENT_TYPE_LATEST)
