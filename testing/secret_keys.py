"""Keyrings for tests: fixed keys, so that what one server sealed another can open (or, with
another keyring, cannot). Never used outside tests."""

from __future__ import annotations

import base64
import json

OLD_KEY = base64.b64encode(bytes(range(32))).decode()
NEW_KEY = base64.b64encode(bytes(range(100, 132))).decode()

# Test servers seal with "t1" unless a test says otherwise.
TEST_SECRETS_KEYS = f"t1:{OLD_KEY}"
ROTATED_SECRETS_KEYS = f"t2:{NEW_KEY},t1:{OLD_KEY}"
NEW_ONLY_SECRETS_KEYS = f"t2:{NEW_KEY}"


MIN_BASE64_BYTES = 6  # 8 characters of base64: shorter ones would match by chance


def secret_forms(secret: str) -> list[str]:
    """The ways `secret` could show up in stored or printed text: itself, JSON-escaped (ASCII
    only or not) and base64 (standard and URL-safe) at each of the three alignments it can take
    inside longer base64 text: only whole 3-byte groups of the secret, whose characters do not
    depend on what surrounds it."""
    forms = {
        secret,
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
    }
    raw = secret.encode()
    for skip in range(3):
        groups = raw[skip:]
        groups = groups[: len(groups) // 3 * 3]
        if len(groups) >= MIN_BASE64_BYTES:
            forms.add(base64.b64encode(groups).decode())
            forms.add(base64.urlsafe_b64encode(groups).decode())
    return sorted(forms)
