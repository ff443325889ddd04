"""Config Service client: get a configuration, follow its changes, write it.

    from config_service_client import Client

    with Client("http://localhost:8000", token_file="/var/run/secrets/config-token") as client:
        document = client.get("billing-api", "production")

See the "Client" section of the Config Service README.
"""

from config_service_client.async_client import AsyncClient
from config_service_client.client import Client
from config_service_client.credentials import CredentialsError
from config_service_client.document import Deleted, Document
from config_service_client.errors import (
    BadRequest,
    ConfigServiceError,
    Conflict,
    FieldError,
    Forbidden,
    InsecureCacheDirectory,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    ProblemError,
    ProtocolViolation,
    RateLimited,
    ServerError,
    ServiceUnavailable,
    ServiceUnreachable,
    Unauthorized,
    UnexpectedStatus,
    ValidationFailed,
)

__version__ = "0.1.0"

__all__ = [
    "AsyncClient",
    "BadRequest",
    "Client",
    "ConfigServiceError",
    "Conflict",
    "CredentialsError",
    "Deleted",
    "Document",
    "FieldError",
    "Forbidden",
    "InsecureCacheDirectory",
    "NotFound",
    "PreconditionFailed",
    "PreconditionRequired",
    "ProblemError",
    "ProtocolViolation",
    "RateLimited",
    "ServerError",
    "ServiceUnavailable",
    "ServiceUnreachable",
    "Unauthorized",
    "UnexpectedStatus",
    "ValidationFailed",
    "__version__",
]
