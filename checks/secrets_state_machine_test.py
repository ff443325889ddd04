"""Model-based testing of secrets: random sequences of marking, unmarking, writing values,
writing masked documents back, merge patches and restores, checked after every step against a
tiny model: the revealing caller reads the model, everyone else the model masked, at every
revision, no write back of a masked document ever stores the placeholder, and only the caller
that may reveal can unmark a secret.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from conftest import LiveServer, make_settings
from models.api_key import Role
from testing.api_keys import bearer, create_api_key
from testing.fuzz_settings import fuzz_examples, fuzz_settings

PLACEHOLDER = "********"
MERGE_PATCH = {"content-type": "application/merge-patch+json"}
KEYS = ["a", "b", "c", "d"]

keys = st.sampled_from(KEYS)
# Text PostgreSQL can store: no U+0000, no lone surrogates (their 422s are tested elsewhere).
text = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=3)
values = (
    st.integers(0, 99)
    | st.sampled_from(["x", "ü", '"q"', "", PLACEHOLDER + "!"])
    | st.builds(lambda token: {"token": token}, text)
)


@dataclass
class Model:
    config: dict[str, Any]
    secrets: list[str]

    def masked(self) -> dict[str, Any]:
        hidden = {pointer[1:] for pointer in self.secrets}
        return {key: PLACEHOLDER if key in hidden else value for key, value in self.config.items()}


class SecretsMachine(RuleBasedStateMachine):
    admin: httpx.Client  # may not reveal; set by the test
    revealer: httpx.Client  # may reveal

    @initialize(config=st.dictionaries(keys, values, min_size=1), data=st.data())
    def create(self, config: dict[str, Any], data: st.DataObject) -> None:
        marked = data.draw(st.lists(st.sampled_from(sorted(config)), unique=True))
        application = self.admin.post(
            "/api/v1/applications", json={"name": f"secrets-{secrets.token_hex(6)}"}
        ).json()
        response = self.admin.post(
            "/api/v1/configurations",
            json={
                "application_id": application["id"],
                "name": "machine",
                "config": config,
                "secrets": [f"/{key}" for key in marked],
            },
        )
        assert response.status_code == 201, response.text
        self.url = f"/api/v1/configurations/{response.json()['id']}"
        self.history = [Model(dict(config), [f"/{key}" for key in marked])]

    @property
    def model(self) -> Model:
        return self.history[-1]

    def _wrote(self, response: httpx.Response, after: Model) -> None:
        assert response.status_code == 200, response.text
        if (after.config, after.secrets) != (self.model.config, self.model.secrets):
            self.history.append(after)
        assert response.json()["revision"] == len(self.history)
        assert response.json()["config"] == after.masked()

    @rule(key=keys, value=values)
    def set_a_secret(self, key: str, value: Any) -> None:
        pointer = f"/{key}"
        marked = (
            self.model.secrets if pointer in self.model.secrets else [*self.model.secrets, pointer]
        )
        response = self.admin.patch(
            self.url,
            json={"config": {key: value}, "secrets": marked},
            headers=MERGE_PATCH,
        )
        if isinstance(value, dict) and isinstance(self.model.config.get(key), dict):
            value = {**self.model.config[key], **value}  # a merge patch merges objects
        self._wrote(response, Model({**self.model.config, key: value}, marked))

    @rule(key=keys)
    def unmark(self, key: str) -> None:
        """Unmarking shows the value to everyone: refused to a caller that may not reveal it."""
        marked = [pointer for pointer in self.model.secrets if pointer != f"/{key}"]
        if marked != self.model.secrets:
            refused = self.admin.put(self.url, json={"secrets": marked})
            assert refused.status_code == 403, refused.text
            assert [error["pointer"] for error in refused.json()["errors"]] == [f"/config/{key}"]
        response = self.revealer.put(self.url, json={"secrets": marked})
        self._wrote(response, Model(dict(self.model.config), marked))

    @rule(key=keys, value=values)
    def write_back_the_masked_document(self, key: str, value: Any) -> None:
        """Read masked, change one plain value (or add one), write the whole document back."""
        read = self.admin.get(self.url).json()
        config = dict(read["config"])
        if f"/{key}" in self.model.secrets:
            key = f"plain-{key}"
        config[key] = value
        response = self.admin.put(self.url, json={"config": config})
        self._wrote(response, Model({**self.model.config, key: value}, list(self.model.secrets)))

    @rule(data=st.data())
    def restore(self, data: st.DataObject) -> None:
        revision = data.draw(st.integers(1, len(self.history)))
        response = self.admin.post(f"{self.url}/revisions/{revision}/restore")
        old = self.history[revision - 1]
        assert response.status_code == 200, response.text
        self.history.append(Model(dict(old.config), list(old.secrets)))
        assert response.json()["revision"] == len(self.history)

    @invariant()
    def each_caller_reads_the_model(self) -> None:
        masked = self.admin.get(self.url).json()
        revealed = self.revealer.get(self.url).json()
        assert (masked["config"], masked["secrets"]) == (self.model.masked(), self.model.secrets)
        assert revealed["config"] == self.model.config
        assert revealed["revision"] == len(self.history)

    @invariant()
    def every_revision_reads_as_it_was(self) -> None:
        listed = self.revealer.get(f"{self.url}/revisions", params={"limit": 100}).json()
        assert [item["config"] for item in reversed(listed)] == [m.config for m in self.history]
        masked = self.admin.get(f"{self.url}/revisions", params={"limit": 100}).json()
        assert [item["config"] for item in reversed(masked)] == [m.masked() for m in self.history]


@pytest.fixture(scope="module")
def clients(live_server: LiveServer, database_url: str) -> Iterator[tuple[httpx.Client, ...]]:
    settings = make_settings(database_url)
    revealing = create_api_key(settings, role=Role.WRITE, name="machine", reveal_secrets=True)
    with (
        httpx.Client(base_url=live_server.url, timeout=30) as admin,
        httpx.Client(base_url=live_server.url, headers=bearer(revealing.key), timeout=30) as other,
    ):
        yield admin, other


def test_secrets_behave_like_the_model(clients: tuple[httpx.Client, ...]) -> None:
    SecretsMachine.admin, SecretsMachine.revealer = clients
    SecretsMachine.TestCase.settings = fuzz_settings(
        examples=max(10, fuzz_examples() // 4), stateful_step_count=12
    )
    run = SecretsMachine.TestCase("runTest")
    run.runTest()
