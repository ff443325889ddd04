"""The client's settings: the arguments, with CONFIG_SERVICE_URL, CONFIG_SERVICE_TOKEN and
CONFIG_SERVICE_TOKEN_FILE filling what is not passed."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from config_service_client.credentials import HeaderSource, header_source

URL_VARIABLE = "CONFIG_SERVICE_URL"


@dataclass(frozen=True)
class ClientSettings:
    base_url: str
    credentials: HeaderSource | None
    cache_dir: Path | None
    timeout: float

    @classmethod
    def resolve(
        cls,
        base_url: str | None,
        *,
        token: str | HeaderSource | None,
        token_file: str | os.PathLike[str] | None,
        cache_dir: str | os.PathLike[str] | None,
        timeout: float,
        environment: Mapping[str, str] | None = None,
    ) -> ClientSettings:
        environment = os.environ if environment is None else environment
        url = base_url if base_url is not None else environment.get(URL_VARIABLE, "")
        if not url.strip():
            raise ValueError(f"no service URL: pass base_url or set {URL_VARIABLE}")
        if not (isinstance(timeout, int | float) and math.isfinite(timeout) and timeout > 0):
            raise ValueError(f"timeout must be a positive number of seconds (got {timeout!r})")
        return cls(
            base_url=_checked_url(url.strip()),
            credentials=header_source(token, token_file, environment),
            cache_dir=Path(cache_dir) if cache_dir is not None else None,
            timeout=float(timeout),
        )


def _checked_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(
            f"the service URL must be http:// or https:// with a host, e.g. "
            f"http://localhost:8000 (got {url!r})"
        )
    if parts.query or parts.fragment:
        raise ValueError(f"the service URL must have no query or fragment (got {url!r})")
    return url.rstrip("/")
