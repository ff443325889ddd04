"""A real OpenID Connect issuer in-process, for tests: discovery and a JWKS over HTTP on a free
port of 127.0.0.1, keys generated per run (RSA, EC P-256/384/521, Ed25519), tokens signed with
any claims and headers. It can rotate its keys, go down and come back, answer anything on a
path, and count what it was asked, so tests can watch how the service fetches keys.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import ECAlgorithm, OKPAlgorithm, RSAAlgorithm

DISCOVERY_PATH = "/.well-known/openid-configuration"
JWKS_PATH = "/jwks"
DEFAULT_AUDIENCE = "config-service"

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey

# Which of the issuer's keys signs each algorithm.
FAMILY = {
    **dict.fromkeys(("RS256", "RS384", "RS512", "PS256", "PS384", "PS512"), "RSA"),
    "ES256": "P-256",
    "ES384": "P-384",
    "ES512": "P-521",
    "EdDSA": "Ed25519",
}
_CURVES: dict[str, ec.EllipticCurve] = {
    "P-256": ec.SECP256R1(),
    "P-384": ec.SECP384R1(),
    "P-521": ec.SECP521R1(),
}


@dataclass(frozen=True)
class SigningKey:
    kid: str
    family: str
    private: PrivateKey

    def public_jwk(self) -> dict[str, Any]:
        public = self.private.public_key()
        if isinstance(public, rsa.RSAPublicKey):
            jwk = RSAAlgorithm.to_jwk(public, as_dict=True)
        elif isinstance(public, ec.EllipticCurvePublicKey):
            jwk = ECAlgorithm.to_jwk(public, as_dict=True)
        else:
            jwk = OKPAlgorithm.to_jwk(public, as_dict=True)
        return {**jwk, "kid": self.kid, "use": "sig"}

    def public_pem(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )


def new_signing_key(family: str, generation: int) -> SigningKey:
    private: PrivateKey
    if family == "RSA":
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    elif family == "Ed25519":
        private = ed25519.Ed25519PrivateKey.generate()
    else:
        private = ec.generate_private_key(_CURVES[family])
    return SigningKey(f"{family}-{generation}-{secrets.token_hex(4)}", family, private)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _json_part(value: Mapping[str, Any]) -> str:
    return _b64(json.dumps(value, separators=(",", ":")).encode())


@dataclass(frozen=True)
class CannedResponse:
    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = (("Content-Type", "application/json"),)
    send_length: bool = True  # False: no Content-Length, the body ends when the connection does
    delay_seconds: float = 0.0  # wait this long before answering
    pieces: int = 1  # send the body in this many pieces...
    piece_delay_seconds: float = 0.0  # ...waiting this long before each


class OidcIssuer:
    """The issuer's state; `url` is its `iss`. Thread-safe: the server thread reads it."""

    def __init__(self, *, families: tuple[str, ...] = tuple(sorted(set(FAMILY.values())))) -> None:
        self.url = ""  # set once the server listens
        self.requests: Counter[str] = Counter()
        self.discovery_issuer: str | None = None  # None: its own url
        self._families = families
        self._generation = 0
        self._lock = threading.Lock()
        self._keys = {family: new_signing_key(family, 0) for family in families}
        self._published: list[SigningKey] = list(self._keys.values())
        self._down = False
        self._canned: dict[str, CannedResponse] = {}

    # Keys -------------------------------------------------------------------------------

    def key(self, algorithm: str = "RS256") -> SigningKey:
        with self._lock:
            return self._keys[FAMILY[algorithm]]

    def rotate(self, *, keep_previous: bool = False) -> None:
        """New keys for every family; the old ones stay published only with keep_previous."""
        with self._lock:
            self._generation += 1
            old = list(self._published)
            self._keys = {
                family: new_signing_key(family, self._generation) for family in self._families
            }
            self._published = [*self._keys.values(), *(old if keep_previous else [])]

    def jwks(self) -> dict[str, Any]:
        with self._lock:
            return {"keys": [key.public_jwk() for key in self._published]}

    # Availability ------------------------------------------------------------------------

    def go_down(self) -> None:
        """Answer 503 to everything until `come_back`."""
        with self._lock:
            self._down = True

    def come_back(self) -> None:
        with self._lock:
            self._down = False

    def answer(self, path: str, response: CannedResponse | None) -> None:
        """Answer `path` with `response` (None: the normal answer again)."""
        with self._lock:
            if response is None:
                self._canned.pop(path, None)
            else:
                self._canned[path] = response

    def fetch_count(self) -> int:
        """How often the JWKS was asked for."""
        with self._lock:
            return self.requests[JWKS_PATH]

    # Tokens ------------------------------------------------------------------------------

    def claims(
        self,
        *,
        subject: str = "alice",
        audience: str | list[str] = DEFAULT_AUDIENCE,
        lifetime: int = 300,
        **extra: Any,
    ) -> dict[str, Any]:
        """Claims of a usual token from this issuer, now; `extra` adds or replaces claims."""
        now = int(time.time())
        return {
            "iss": self.url,
            "sub": subject,
            "aud": audience,
            "iat": now,
            "exp": now + lifetime,
            **extra,
        }

    def token(
        self,
        claims: Mapping[str, Any] | None = None,
        *,
        algorithm: str = "RS256",
        headers: Mapping[str, Any] | None = None,
        without: tuple[str, ...] = (),
        signing_key: SigningKey | None = None,
    ) -> str:
        """A token signed with this issuer's current key for `algorithm` (its kid in the
        header), or with `signing_key`; `without` drops claims; `headers` add or replace."""
        payload = dict(self.claims() if claims is None else claims)
        for name in without:
            payload.pop(name, None)
        key = signing_key or self.key(algorithm)
        header = {"kid": key.kid, **(headers or {})}
        header = {name: value for name, value in header.items() if value is not None}
        return jwt.encode(payload, key.private, algorithm=algorithm, headers=header)

    def unsigned_token(self, claims: Mapping[str, Any] | None = None) -> str:
        """`alg: none`: no signature at all."""
        header = {"alg": "none", "typ": "JWT"}
        return f"{_json_part(header)}.{_json_part(claims or self.claims())}."

    def hmac_token(
        self,
        secret: bytes,
        claims: Mapping[str, Any] | None = None,
        *,
        algorithm: str = "HS256",
        headers: Mapping[str, Any] | None = None,
    ) -> str:
        """An HMAC-signed token. Written out here rather than with PyJWT, which (rightly)
        refuses a PEM public key as an HMAC secret: this builds the key-confusion attack."""
        digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}
        header = {"alg": algorithm, "typ": "JWT", **(headers or {})}
        signing_input = f"{_json_part(header)}.{_json_part(claims or self.claims())}"
        signature = hmac.new(secret, signing_input.encode(), digest[algorithm]).digest()
        return f"{signing_input}.{_b64(signature)}"

    # Serving -----------------------------------------------------------------------------

    def response_for(self, path: str) -> CannedResponse:
        with self._lock:
            self.requests[path] += 1
            if self._down:
                return CannedResponse(HTTPStatus.SERVICE_UNAVAILABLE, b'{"error": "down"}')
            canned = self._canned.get(path)
        if canned is not None:
            return canned
        if path == DISCOVERY_PATH:
            document = {
                "issuer": self.discovery_issuer or self.url,
                "jwks_uri": self.url + JWKS_PATH,
                "authorization_endpoint": self.url + "/authorize",
                "token_endpoint": self.url + "/token",
                "id_token_signing_alg_values_supported": sorted(FAMILY),
            }
            return CannedResponse(HTTPStatus.OK, json.dumps(document).encode())
        if path == JWKS_PATH:
            return CannedResponse(HTTPStatus.OK, json.dumps(self.jwks()).encode())
        return CannedResponse(HTTPStatus.NOT_FOUND, b'{"error": "not found"}')


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up mid-answer (a fetch cut short on purpose) is no error."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _handler(issuer: OidcIssuer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # the stdlib's name
            response = issuer.response_for(self.path.split("?", 1)[0])
            if response.delay_seconds:
                time.sleep(response.delay_seconds)
            self.send_response(response.status)
            for name, value in response.headers:
                self.send_header(name, value)
            if response.send_length:
                self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            size = -(-len(response.body) // response.pieces)
            for start in range(0, len(response.body), size or 1):
                time.sleep(response.piece_delay_seconds)
                self.wfile.write(response.body[start : start + size])
                self.wfile.flush()

        def log_message(self, format: str, *args: Any) -> None:  # the stdlib names it so
            """Quiet: tests read `issuer.requests` instead."""

    return Handler


def trusting(*issuers: OidcIssuer, **members: Any) -> list[dict[str, Any]]:
    """OIDC_ISSUERS entries that trust `issuers` for the default audience."""
    return [
        {"issuer": issuer.url, "audiences": [DEFAULT_AUDIENCE], **members} for issuer in issuers
    ]


@contextmanager
def run_oidc_issuer(**options: Any) -> Iterator[OidcIssuer]:
    """An issuer serving on a free port of 127.0.0.1 until the block ends."""
    issuer = OidcIssuer(**options)
    server = _Server(("127.0.0.1", 0), _handler(issuer))
    issuer.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="oidc-issuer", daemon=True
    )
    thread.start()
    try:
        yield issuer
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
