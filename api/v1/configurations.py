"""Routes for /api/v1/configurations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from api.dependencies import ConfigurationServiceDep, JsonBody
from api.problems import problem_responses
from api.v1.applications import LOCATION_HEADER_DOC
from models.configuration import Configuration, ConfigurationCreate, ConfigurationUpdate
from models.fields import ConfigurationId

router = APIRouter(prefix="/configurations", tags=["configurations"])

ConfigurationIdPath = Annotated[
    ConfigurationId, Path(description="The configuration's id (a ULID, either case).")
]


@router.post(
    "",
    status_code=201,
    summary="Create a configuration",
    description="`application_id` in the body names the owning application; an unknown one "
    "is a 422.",
    dependencies=[JsonBody],
    responses={
        201: {"description": "Created.", "headers": LOCATION_HEADER_DOC},
        **problem_responses(400, 409, 413, 415, 422, 503),
    },
)
def create_configuration(
    body: ConfigurationCreate,
    service: ConfigurationServiceDep,
    request: Request,
    response: Response,
) -> Configuration:
    configuration = service.create(data=body)
    response.headers["Location"] = request.url_for(
        "get_configuration", configuration_id=configuration.id
    ).path
    return configuration


@router.get(
    "/{configuration_id}",
    summary="Get a configuration",
    responses=problem_responses(404, 422, 503),
)
def get_configuration(
    configuration_id: ConfigurationIdPath, service: ConfigurationServiceDep
) -> Configuration:
    return service.get(configuration_id=configuration_id)


@router.put(
    "/{configuration_id}",
    summary="Update a configuration",
    description="Fields left out stay unchanged; `comments: null` clears the comments; "
    "`name` and `config` may be left out but not null. `config` replaces the whole document.",
    dependencies=[JsonBody],
    responses=problem_responses(400, 404, 409, 413, 415, 422, 503),
)
def update_configuration(
    configuration_id: ConfigurationIdPath,
    body: ConfigurationUpdate,
    service: ConfigurationServiceDep,
) -> Configuration:
    return service.update(configuration_id=configuration_id, changes=body)


@router.delete(
    "/{configuration_id}",
    status_code=204,
    summary="Delete a configuration",
    responses=problem_responses(404, 422, 503),
)
def delete_configuration(
    configuration_id: ConfigurationIdPath, service: ConfigurationServiceDep
) -> None:
    service.delete(configuration_id=configuration_id)
