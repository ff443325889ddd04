"""Who the service tests make their changes for."""

from __future__ import annotations

from models.audit import Actor

TEST_ACTOR = Actor(key_id=None, key_name="service tests", request_id="test")
