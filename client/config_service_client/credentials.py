"""Where the `Authorization` header comes from: an API key, a token file that is read again
when it changes (Kubernetes projected tokens rotate), or any callable that returns the value.

The token itself never appears in a message, a repr or a log line.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

from config_service_client.errors import ConfigServiceError

# A token file larger than this is no token (a wrong path, say a log file).
MAX_TOKEN_FILE_BYTES = 64 * 1024

HeaderSource = Callable[[], str]


class CredentialsError(ConfigServiceError):
    """The token cannot be had (the token file is missing, empty or unreadable)."""


class StaticToken:
    def __init__(self, token: str) -> None:
        token = token.strip()
        if not token:
            raise CredentialsError("the token is empty")
        self._header = f"Bearer {token}"

    def __call__(self) -> str:
        return self._header

    def __repr__(self) -> str:
        return "StaticToken(***)"


class TokenFile:
    """A bearer token kept in a file: read at the first request, and again whenever the
    file's identity, size or modification time changes (a rotation replaces it)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._seen: tuple[int, int, int, int] | None = None
        self._header = ""

    def __call__(self) -> str:
        try:
            status = self.path.stat()
        except OSError as error:
            raise CredentialsError(
                f"cannot read the token file {self.path}: {error.strerror}"
            ) from None
        identity = (status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns)
        with self._lock:
            if identity != self._seen:
                self._header = f"Bearer {self._read()}"
                self._seen = identity
            return self._header

    def _read(self) -> str:
        try:
            with self.path.open("rb") as file:
                raw = file.read(MAX_TOKEN_FILE_BYTES + 1)
        except OSError as error:
            raise CredentialsError(
                f"cannot read the token file {self.path}: {error.strerror}"
            ) from None
        if len(raw) > MAX_TOKEN_FILE_BYTES:
            raise CredentialsError(
                f"the token file {self.path} is larger than {MAX_TOKEN_FILE_BYTES} bytes"
            )
        token = raw.decode("utf-8", errors="replace").strip()
        if not token or any(character in token for character in "\r\n\0"):
            raise CredentialsError(
                f"the token file {self.path} must hold one token on one line (it is empty or "
                "has several lines)"
            )
        return token

    def __repr__(self) -> str:
        return f"TokenFile({str(self.path)!r})"


def header_source(
    token: str | HeaderSource | None,
    token_file: str | os.PathLike[str] | None,
    environment: Mapping[str, str],
) -> HeaderSource | None:
    """The header's source from the arguments, or else from CONFIG_SERVICE_TOKEN or
    CONFIG_SERVICE_TOKEN_FILE; None: requests go without one."""
    if token is not None and token_file is not None:
        raise ValueError("pass token or token_file, not both")
    if token is None and token_file is None:
        token = environment.get("CONFIG_SERVICE_TOKEN") or None
        token_file = environment.get("CONFIG_SERVICE_TOKEN_FILE") or None
        if token is not None and token_file is not None:
            raise ValueError(
                "CONFIG_SERVICE_TOKEN and CONFIG_SERVICE_TOKEN_FILE are both set: set only one"
            )
    if token_file is not None:
        return TokenFile(token_file)
    if callable(token):
        return token
    if token is not None:
        return StaticToken(token)
    return None
