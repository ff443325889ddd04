"""The bearer token a request presents (an API key or an identity token), read one way for
authentication and for rate limits."""

from __future__ import annotations

# RFC 9110's optional white space. Stripping more (str.strip() also takes U+00A0 and U+0085,
# which HTTP allows as obs-text) would let one key pass for many callers of the rate limiter.
OPTIONAL_WHITE_SPACE = " \t"

# In the request scope's "state": called once the request's key is known to be good, so that
# the failed-authentication budget reserved for the request is given back before it waits.
AUTHENTICATED_HOOK = "rate_limit_authenticated"

# In the request scope's "state": called with an identity (issuer and subject) once its token
# is verified, so that identities are counted per subject, not per token (a workload gets a new
# token every hour, or every job). Raises RateLimited when that subject's budget is spent.
IDENTITY_VERIFIED_HOOK = "rate_limit_identity_verified"


def bearer_token(header: str | None) -> str | None:
    """The token of `Authorization: Bearer <token>`, or None without one."""
    scheme, _, token = (header or "").partition(" ")
    token = token.strip(OPTIONAL_WHITE_SPACE)
    if scheme.lower() != "bearer" or not token:
        return None
    return token
