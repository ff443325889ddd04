"""Model-based testing: random sequences of API calls, checked against a tiny in-memory model.

Hypothesis drives the real service over HTTP (create and delete applications and
configurations, update, merge-patch, rename, restore, list page by page). After every step the
API and the model must agree; a failing sequence shrinks to a minimal one. Names carry a prefix
unique to the run, so other tests' rows in the shared database never collide with them.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    rule,
    run_state_machine_as_test,
)

from models.json_document import same_document
from testing.fuzz_settings import fuzz_examples, fuzz_settings
from testing.live_server import LiveServer

MERGE_PATCH = {"content-type": "application/merge-patch+json"}
PAGE_SIZE = 2

keys = st.sampled_from(["a", "b", "c", "", "ключ", "🚀"])
# Text PostgreSQL can store: no U+0000, no lone surrogates (their 422s are tested elsewhere).
text = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=5)
scalars = st.none() | st.booleans() | st.integers(-(10**20), 10**20) | text
documents = st.dictionaries(
    keys,
    st.recursive(scalars, lambda inner: st.dictionaries(keys, inner, max_size=3), max_leaves=6),
)
# Few distinct names, so that taken names (409) come up often.
short_names = st.sampled_from(["one", "two", "three"])


@dataclass
class ApplicationModel:
    name: str
    configuration_ids: list[str] = field(default_factory=list)


@dataclass
class ConfigurationModel:
    application_id: str
    name: str
    config: dict[str, Any]
    history: list[dict[str, Any]]

    @property
    def revision(self) -> int:
        return len(self.history)


def merged(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merged(result.get(key), value)
    return result


class ConfigServiceMachine(RuleBasedStateMachine):
    http: httpx.Client  # set by the test before the machine runs

    applications = Bundle("applications")
    configurations = Bundle("configurations")

    def __init__(self) -> None:
        super().__init__()
        self.prefix = f"sm-{secrets.token_hex(4)}-"
        self.apps: dict[str, ApplicationModel] = {}
        self.configs: dict[str, ConfigurationModel] = {}

    # Applications

    @rule(target=applications, name=short_names)
    def create_application(self, name: str) -> str:
        full_name = self.prefix + name
        response = self.http.post("/api/v1/applications", json={"name": full_name})
        if any(app.name == full_name for app in self.apps.values()):
            assert response.status_code == 409, response.text
            return "0" * 26  # a valid id that names nothing
        assert response.status_code == 201, response.text
        created = response.json()
        assert response.headers["location"] == f"/api/v1/applications/{created['id']}"
        self.apps[created["id"]] = ApplicationModel(name=full_name)
        return str(created["id"])

    @rule(application_id=applications, name=short_names)
    def rename_application(self, application_id: str, name: str) -> None:
        full_name = self.prefix + name
        response = self.http.put(f"/api/v1/applications/{application_id}", json={"name": full_name})
        app = self.apps.get(application_id)
        if app is None:
            assert response.status_code == 404, response.text
        elif any(
            other.name == full_name for key, other in self.apps.items() if key != application_id
        ):
            assert response.status_code == 409, response.text
        else:
            assert response.status_code == 200, response.text
            app.name = full_name

    @rule(application_id=consumes(applications))
    def delete_application(self, application_id: str) -> None:
        response = self.http.delete(f"/api/v1/applications/{application_id}")
        app = self.apps.pop(application_id, None)
        assert response.status_code == (404 if app is None else 204), response.text
        for configuration_id in app.configuration_ids if app else []:
            del self.configs[configuration_id]

    # Configurations

    @rule(target=configurations, application_id=applications, name=short_names, config=documents)
    def create_configuration(self, application_id: str, name: str, config: dict[str, Any]) -> str:
        body = {"application_id": application_id, "name": name, "config": config}
        response = self.http.post("/api/v1/configurations", json=body)
        app = self.apps.get(application_id)
        if app is None:
            assert response.status_code == 422, response.text
            return "0" * 26
        if any(self.configs[key].name == name for key in app.configuration_ids):
            assert response.status_code == 409, response.text
            return "0" * 26
        assert response.status_code == 201, response.text
        created = response.json()
        self.configs[created["id"]] = ConfigurationModel(application_id, name, config, [config])
        app.configuration_ids.append(created["id"])
        return str(created["id"])

    def _write(self, configuration_id: str, response: httpx.Response, config: Any) -> None:
        model = self.configs.get(configuration_id)
        if model is None:
            assert response.status_code == 404, response.text
            return
        assert response.status_code == 200, response.text
        if not same_document(config, model.config):
            model.config = config
            model.history.append(config)
        assert response.json()["revision"] == model.revision

    @rule(configuration_id=configurations, config=documents)
    def update_configuration(self, configuration_id: str, config: dict[str, Any]) -> None:
        url = f"/api/v1/configurations/{configuration_id}"
        response = self.http.put(url, json={"config": config})
        self._write(configuration_id, response, config)

    @rule(configuration_id=configurations, patch=documents)
    def patch_configuration(self, configuration_id: str, patch: dict[str, Any]) -> None:
        url = f"/api/v1/configurations/{configuration_id}"
        response = self.http.patch(url, json={"config": patch}, headers=MERGE_PATCH)
        model = self.configs.get(configuration_id)
        self._write(configuration_id, response, merged(model.config, patch) if model else None)

    @rule(configuration_id=configurations, name=short_names)
    def rename_configuration(self, configuration_id: str, name: str) -> None:
        url = f"/api/v1/configurations/{configuration_id}"
        response = self.http.put(url, json={"name": name})
        model = self.configs.get(configuration_id)
        if model is None:
            assert response.status_code == 404, response.text
            return
        siblings = self.apps[model.application_id].configuration_ids
        if any(self.configs[key].name == name for key in siblings if key != configuration_id):
            assert response.status_code == 409, response.text
            return
        assert response.status_code == 200, response.text
        if name != model.name:
            model.name = name
            model.history.append(model.config)
        assert response.json()["revision"] == model.revision

    @rule(configuration_id=configurations, choice=st.integers(min_value=1, max_value=50))
    def restore_revision(self, configuration_id: str, choice: int) -> None:
        model = self.configs.get(configuration_id)
        revision = 1 + (choice - 1) % model.revision if model else 1
        url = f"/api/v1/configurations/{configuration_id}/revisions/{revision}/restore"
        response = self.http.post(url)
        if model is None:
            assert response.status_code == 404, response.text
            return
        assert response.status_code == 200, response.text
        model.config = model.history[revision - 1]
        model.history.append(model.config)  # a restore always makes a revision
        assert response.json()["revision"] == model.revision

    @rule(configuration_id=consumes(configurations))
    def delete_configuration(self, configuration_id: str) -> None:
        response = self.http.delete(f"/api/v1/configurations/{configuration_id}")
        model = self.configs.pop(configuration_id, None)
        assert response.status_code == (404 if model is None else 204), response.text
        if model is not None:
            self.apps[model.application_id].configuration_ids.remove(configuration_id)

    # What must hold after every step

    @invariant()
    def every_configuration_reads_as_modelled(self) -> None:
        for configuration_id, model in self.configs.items():
            response = self.http.get(f"/api/v1/configurations/{configuration_id}")
            assert response.status_code == 200, response.text
            found = response.json()
            assert (found["application_id"], found["name"], found["revision"]) == (
                model.application_id,
                model.name,
                model.revision,
            )
            assert same_document(found["config"], model.config), (found["config"], model.config)
            assert response.headers["etag"] == f'"{model.revision}"'

    @invariant()
    def every_application_lists_exactly_its_configurations(self) -> None:
        for application_id, app in self.apps.items():
            detail = self.http.get(f"/api/v1/applications/{application_id}")
            assert detail.status_code == 200, detail.text
            assert (detail.json()["name"], detail.json()["configuration_ids"]) == (
                app.name,
                app.configuration_ids,
            )
            assert self._paged_ids(application_id) == app.configuration_ids

    def _paged_ids(self, application_id: str) -> list[str]:
        ids: list[str] = []
        url: str | None = f"/api/v1/applications/{application_id}/configurations?limit={PAGE_SIZE}"
        while url is not None:
            page = self.http.get(url)
            assert page.status_code == 200, page.text
            items = page.json()
            assert len(items) <= PAGE_SIZE
            ids.extend(item["id"] for item in items)
            url = page.links.get("next", {}).get("url")
            assert url is None or len(items) == PAGE_SIZE
        return ids

    @invariant()
    def deleted_resources_are_gone(self) -> None:
        known = set(self.configs)
        listed = {
            configuration_id
            for app in self.apps.values()
            for configuration_id in app.configuration_ids
        }
        assert known == listed


@pytest.mark.parametrize("steps", [25])
def test_the_api_behaves_like_the_model(live_server: LiveServer, steps: int) -> None:
    with httpx.Client(base_url=live_server.url, timeout=30) as http:
        ConfigServiceMachine.http = http
        run_state_machine_as_test(
            ConfigServiceMachine,
            settings=fuzz_settings(
                examples=max(10, fuzz_examples() // 3), stateful_step_count=steps
            ),
        )
