"""Identity tokens over HTTP, from a real issuer in-process: every bad token is a 401 naming its
reason (never a 500, never echoing the token), a verified identity without a binding is a 403,
and one with bindings gets their union, in the audit log and the access log by issuer and
subject, counted for rate limits by subject."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from api.v1.applications_test import assert_problem, unique_name
from api.v1.events_test import open_stream
from conftest import LiveServer, admin_client, make_settings
from identity.token_verifier import MAX_TOKEN_BYTES
from testing.live_server import run_live_server
from testing.oidc_issuer import OidcIssuer, run_oidc_issuer, trusting
from testing.seeding import create_application, create_configuration, put_config

Token = Callable[[OidcIssuer], str]


def bind(admin: httpx.Client, issuer: OidcIssuer, claims: dict[str, Any], **fields: Any) -> str:
    body = {"name": unique_name("b"), "issuer": issuer.url, "claims": claims, "role": "read"}
    created = admin.post("/api/v1/bindings", json={**body, **fields})
    assert created.status_code == 201, created.text
    binding_id: str = created.json()["id"]
    return binding_id


def as_token(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def now() -> int:
    return int(time.time())


OTHER = OidcIssuer(families=("RSA",))
BAD_TOKENS: dict[str, tuple[Token, str]] = {
    "expired": (lambda i: i.token(i.claims(iat=now() - 600, exp=now() - 120)), "expired"),
    "not yet valid": (lambda i: i.token(i.claims(nbf=now() + 600)), "not_yet_valid"),
    "wrong audience": (lambda i: i.token(i.claims(audience="someone-else")), "wrong_audience"),
    "unknown issuer": (
        lambda i: i.token(i.claims(iss="https://evil.example")),
        "unknown_issuer",
    ),
    "alg none": (lambda i: i.unsigned_token(), "algorithm_not_allowed"),
    "HMAC with the public key": (
        lambda i: i.hmac_token(i.key("RS256").public_pem()),
        "algorithm_not_allowed",
    ),
    "unknown kid": (lambda i: i.token(headers={"kid": "made-up"}), "unknown_key"),
    "another issuer's key": (
        lambda i: i.token(signing_key=OTHER.key("RS256"), headers={"kid": i.key("RS256").kid}),
        "bad_signature",
    ),
    "no expiry": (lambda i: i.token(without=("exp",)), "no_expiry"),
    "too long a lifetime": (lambda i: i.token(i.claims(lifetime=90_000)), "lifetime_too_long"),
    "a string where a number belongs": (
        lambda i: i.token(i.claims(exp=str(now() + 60))),
        "malformed",
    ),
    "encrypted (JWE)": (
        lambda i: "eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a2V5.aXY.Y2lwaGVy.dGFn",
        "malformed",
    ),
    "a signature that is no base64url": (lambda i: i.token()[:-2] + "!~", "malformed"),
    "malformed": (lambda i: "eyJhbGciOiJSUzI1NiJ9.bm90IGpzb24.c2ln", "malformed"),
    "oversized": (
        lambda i: i.token(i.claims(padding="x" * MAX_TOKEN_BYTES)),
        "too_large",
    ),
}


@pytest.mark.parametrize("case", list(BAD_TOKENS))
def test_every_bad_token_is_a_401_naming_its_reason(
    identity_server: LiveServer, oidc_issuer: OidcIssuer, case: str
) -> None:
    make, reason = BAD_TOKENS[case]
    token = make(oidc_issuer)

    response = httpx.get(f"{identity_server.url}/api/v1/applications", headers=as_token(token))

    problem = assert_problem(response, 401)
    assert response.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    assert (problem["type"], problem["title"], problem["reason"]) == (
        "urn:config-service:problem:invalid-token",
        "Identity token refused",
        reason,
    )
    assert problem["detail"].startswith(f"the identity token is refused ({reason}): ")
    assert token not in response.text
    signature = token.rsplit(".", 1)[-1]
    assert not signature or signature[-20:] not in response.text


def test_a_verified_identity_without_a_binding_is_a_403(
    identity_server: LiveServer, oidc_issuer: OidcIssuer
) -> None:
    subject = unique_name("nobody")

    response = httpx.get(
        f"{identity_server.url}/api/v1/applications",
        headers=as_token(oidc_issuer.token(oidc_issuer.claims(subject=subject))),
    )

    problem = assert_problem(response, 403)
    assert problem["detail"] == (
        f"the identity {subject!r} of {oidc_issuer.url} is verified, but no binding lets it in: "
        "an admin can make one (POST /api/v1/bindings)"
    )


def test_a_binding_takes_effect_at_once_and_its_deletion_too(
    identity_admin: httpx.Client, identity_server: LiveServer, oidc_issuer: OidcIssuer
) -> None:
    subject = unique_name("ci")
    token = as_token(oidc_issuer.token(oidc_issuer.claims(subject=subject)))
    url = f"{identity_server.url}/api/v1/applications"
    assert httpx.get(url, headers=token).status_code == 403

    binding = bind(identity_admin, oidc_issuer, {"sub": subject})
    allowed = httpx.get(url, headers=token)
    identity_admin.delete(f"/api/v1/bindings/{binding}").raise_for_status()
    refused = httpx.get(url, headers=token)

    assert allowed.status_code == 200, allowed.text
    assert refused.status_code == 403


def test_an_identity_gets_the_union_of_its_bindings(
    identity_admin: httpx.Client, identity_server: LiveServer, oidc_issuer: OidcIssuer
) -> None:
    read_here, write_here, elsewhere = (create_application(identity_admin) for _ in range(3))
    group = unique_name("team")
    subject = unique_name("dev")
    bind(
        identity_admin,
        oidc_issuer,
        {"groups": group},
        applications=[read_here["id"], write_here["id"]],
    )
    bind(
        identity_admin, oidc_issuer, {"sub": subject}, role="write", applications=[write_here["id"]]
    )
    claims = oidc_issuer.claims(subject=subject, groups=["other", group])
    client = httpx.Client(base_url=identity_server.url, headers=as_token(oidc_issuer.token(claims)))

    with client:
        listed = client.get("/api/v1/applications", params={"limit": 1000}).json()
        written = client.post(
            "/api/v1/configurations",
            json={"application_id": write_here["id"], "name": "p", "config": {"v": 1}},
        )
        not_written = client.post(
            "/api/v1/configurations",
            json={"application_id": read_here["id"], "name": "p", "config": {"v": 1}},
        )
        hidden = client.get(f"/api/v1/applications/{elsewhere['id']}")
        missing = client.get("/api/v1/applications/01JQ3V8C5E7G9J1M3P5S7V9X1Z")

    assert sorted(app["id"] for app in listed) == sorted([read_here["id"], write_here["id"]])
    assert written.status_code == 201, written.text
    problem = assert_problem(not_written, 403)
    assert problem["detail"] == (
        f"the identity {subject!r} of {oidc_issuer.url} has the role 'read' here; "
        "this needs 'write'"
    )
    assert assert_problem(hidden, 404)["detail"] == f"application {elsewhere['id']} does not exist"
    assert missing.status_code == 404


def test_a_change_by_an_identity_is_audited_by_issuer_subject_and_bindings(
    identity_admin: httpx.Client,
    identity_server: LiveServer,
    oidc_issuer: OidcIssuer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    application = create_application(identity_admin)
    subject = unique_name("deployer")
    binding = bind(identity_admin, oidc_issuer, {"sub": subject}, role="write")
    token = as_token(oidc_issuer.token(oidc_issuer.claims(subject=subject)))

    with caplog.at_level(logging.INFO, logger="config_service.access"):
        created = httpx.post(
            f"{identity_server.url}/api/v1/configurations",
            headers=token,
            json={"application_id": application["id"], "name": "p", "config": {}},
        )

    assert created.status_code == 201, created.text
    [record] = identity_admin.get(
        "/api/v1/audit", params={"configuration_id": created.json()["id"]}
    ).json()
    assert {
        name: record[name] for name in ("key_id", "key_name", "issuer", "subject", "binding_ids")
    } == {
        "key_id": None,
        "key_name": None,
        "issuer": oidc_issuer.url,
        "subject": subject,
        "binding_ids": [binding],
    }
    [access] = [
        entry
        for entry in caplog.records
        if entry.name == "config_service.access" and getattr(entry, "subject", None) == subject
    ]
    assert (access.issuer, access.binding_ids, access.status) == (  # type: ignore[attr-defined]
        oidc_issuer.url,
        [binding],
        201,
    )
    assert "eyJ" not in access.getMessage()


@pytest.mark.parametrize("subject", ["ci\u0000job", "ci\ud800job"])
def test_a_subject_no_text_can_store_is_a_401_not_a_failed_write(
    identity_admin: httpx.Client, identity_server: LiveServer, oidc_issuer: OidcIssuer, subject: str
) -> None:
    # The subject goes into the audit record of every write, which PostgreSQL cannot store.
    application = create_application(identity_admin)
    group = unique_name("writers")
    bind(identity_admin, oidc_issuer, {"groups": group}, role="write")
    token = as_token(oidc_issuer.token(oidc_issuer.claims(subject=subject, groups=[group])))

    created = httpx.post(
        f"{identity_server.url}/api/v1/configurations",
        headers=token,
        json={"application_id": application["id"], "name": "p", "config": {}},
    )

    problem = assert_problem(created, 401)
    assert (problem["reason"], problem["detail"]) == (
        "malformed",
        "the identity token is refused (malformed): the token's subject (sub) holds U+0000 or "
        "a lone surrogate, which no text can store",
    )
    listed = identity_admin.get(f"/api/v1/applications/{application['id']}/configurations")
    assert listed.json() == []


def test_the_access_log_names_a_keys_id(
    identity_admin: httpx.Client, identity_server: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="config_service.access"):
        identity_admin.get("/api/v1/keys", params={"limit": 1}).raise_for_status()

    keyed = [entry for entry in caplog.records if getattr(entry, "key_id", None)]
    assert keyed
    assert all(entry.route == "/api/v1/keys" for entry in keyed)  # type: ignore[attr-defined]


@pytest.mark.parametrize("path", ["/api/v1/events", "/api/v1/applications/{id}/events"])
def test_a_stream_ends_once_its_binding_is_deleted(
    identity_admin: httpx.Client, oidc_issuer: OidcIssuer, path: str
) -> None:
    application = create_application(identity_admin)
    subject = unique_name("watcher")
    binding = bind(identity_admin, oidc_issuer, {"sub": subject}, applications=[application["id"]])
    token = as_token(oidc_issuer.token(oidc_issuer.claims(subject=subject)))
    with open_stream(
        str(identity_admin.base_url), path.format(id=application["id"]), token
    ) as stream:
        create_configuration(identity_admin, application["id"], "before", {"v": 1})
        assert stream.next().data["name"] == "before"

        identity_admin.delete(f"/api/v1/bindings/{binding}").raise_for_status()
        create_configuration(identity_admin, application["id"], "after", {"v": 2})

        assert stream.ended()


def test_a_long_poll_whose_token_expires_while_waiting_gets_401(
    identity_admin: httpx.Client, oidc_issuer: OidcIssuer
) -> None:
    application = create_application(identity_admin)
    configuration = create_configuration(identity_admin, application["id"], "prod", {"v": 1})
    subject = unique_name("poller")
    bind(identity_admin, oidc_issuer, {"sub": subject})
    # Valid now, expired (past the 30 s leeway) within the poll's wait.
    claims = oidc_issuer.claims(subject=subject, iat=now() - 60, exp=now() - 28)
    answers: list[httpx.Response] = []

    def poll() -> None:
        answers.append(
            httpx.get(
                f"{identity_admin.base_url}/api/v1/values/{application['name']}/prod",
                headers={
                    **as_token(oidc_issuer.token(claims)),
                    "If-None-Match": '"1"',
                    "Prefer": "wait=6",
                },
                timeout=30,
            )
        )

    waiter = threading.Thread(target=poll)
    waiter.start()
    time.sleep(4)
    put_config(identity_admin, configuration["id"], {"v": 2})  # wakes the poll
    waiter.join()

    problem = assert_problem(answers[0], 401)
    assert problem["reason"] == "expired"
    assert answers[0].headers["preference-applied"] == "wait=6"  # it was let in, and waited


@pytest.fixture
def limited_server(database_url: str, oidc_issuer: OidcIssuer) -> Iterator[LiveServer]:
    settings = make_settings(
        database_url,
        oidc_issuers=trusting(oidc_issuer),
        rate_limit_per_second=0.01,
        rate_limit_burst=3,
    )
    with run_live_server(settings, default_key=False) as server:
        yield server


def test_rate_limits_count_per_subject_not_per_token(
    limited_server: LiveServer, oidc_issuer: OidcIssuer
) -> None:
    subject, bystander = unique_name("busy"), unique_name("calm")
    with admin_client(limited_server) as admin:
        bind(admin, oidc_issuer, {"sub": [subject, bystander]})

    def fresh_token(who: str) -> dict[str, str]:  # a new token each time, as CI jobs get
        return as_token(oidc_issuer.token(oidc_issuer.claims(subject=who, jti=unique_name())))

    url = f"{limited_server.url}/api/v1/applications"
    forged = [
        httpx.get(
            url, headers=as_token(oidc_issuer.unsigned_token(oidc_issuer.claims(subject=subject)))
        )
        for _ in range(3)
    ]
    answers = [httpx.get(url, headers=fresh_token(subject)) for _ in range(4)]
    other = httpx.get(url, headers=fresh_token(bystander))

    assert [response.status_code for response in forged] == [401, 401, 401]
    assert [response.status_code for response in answers] == [200, 200, 200, 429]
    problem = assert_problem(answers[3], 429)
    assert problem["detail"].startswith(
        "too many requests for this identity: at most 3 at once, then 0.01 a second"
    )
    assert int(answers[3].headers["retry-after"]) >= 1
    assert answers[2].headers["ratelimit"].startswith('"per-key";r=0;')
    assert other.status_code == 200


def test_a_provider_down_at_start_gives_401_then_its_tokens_work_once_it_is_back(
    database_url: str,
) -> None:
    with run_oidc_issuer(families=("RSA",)) as issuer:
        issuer.go_down()
        settings = make_settings(database_url, oidc_issuers=trusting(issuer))
        with run_live_server(settings, default_key=False) as server:
            url = f"{server.url}/api/v1/applications"
            token = as_token(issuer.token())
            while_down = httpx.get(url, headers=token)
            health = httpx.get(f"{server.url}/health/ready")
            issuer.come_back()
            with admin_client(server) as admin:
                bind(admin, issuer, {"sub": "alice"})
            deadline = time.monotonic() + 30
            answer = httpx.get(url, headers=token)
            while answer.status_code == 401 and time.monotonic() < deadline:
                time.sleep(0.2)
                answer = httpx.get(url, headers=token)

    assert assert_problem(while_down, 401)["reason"] == "keys_unavailable"
    assert health.status_code == 200
    assert answer.status_code == 200, answer.text


def test_a_provider_down_locks_nobody_out_as_failed_authentications_would(
    database_url: str,
) -> None:
    with run_oidc_issuer(families=("RSA",)) as issuer:
        issuer.go_down()
        settings = make_settings(
            database_url,
            oidc_issuers=trusting(issuer),
            rate_limit_auth_failures_per_minute=1,
            rate_limit_auth_failures_burst=2,
        )
        with run_live_server(settings, default_key=False) as server:
            url = f"{server.url}/api/v1/applications"
            token = as_token(issuer.token())
            while_down = [httpx.get(url, headers=token) for _ in range(4)]
            with admin_client(server) as admin:
                by_key = admin.get("/api/v1/applications")
            forged = [httpx.get(url, headers=as_token(issuer.unsigned_token())) for _ in range(3)]

    assert [assert_problem(answer, 401)["reason"] for answer in while_down] == [
        "keys_unavailable"
    ] * 4
    assert by_key.status_code == 200, by_key.text
    # A token refused for what it is still counts.
    assert [answer.status_code for answer in forged] == [401, 401, 429]


def test_an_admin_identity_may_read_metrics_when_they_need_a_key(
    database_url: str, oidc_issuer: OidcIssuer
) -> None:
    # With rate limits on: /metrics takes no budget, an identity's included.
    settings = make_settings(
        database_url,
        oidc_issuers=trusting(oidc_issuer),
        metrics_require_key=True,
        rate_limit_per_second=100,
    )
    with run_live_server(settings, default_key=False) as server:
        subject = unique_name("operator")
        with admin_client(server) as admin:
            bind(admin, oidc_issuer, {"sub": subject}, role="admin")
        as_admin = httpx.get(
            f"{server.url}/metrics",
            headers=as_token(oidc_issuer.token(oidc_issuer.claims(subject=subject))),
        )

    assert as_admin.status_code == 200


def test_a_scoped_identity_gets_the_validation_answer_for_what_is_no_id(
    identity_admin: httpx.Client, identity_server: LiveServer, oidc_issuer: OidcIssuer
) -> None:
    application = create_application(identity_admin)
    subject = unique_name("scoped")
    bind(
        identity_admin,
        oidc_issuer,
        {"sub": subject},
        role="write",
        applications=[application["id"]],
    )
    token = as_token(oidc_issuer.token(oidc_issuer.claims(subject=subject)))

    with httpx.Client(base_url=identity_server.url, headers=token) as client:
        answers = [
            client.get("/api/v1/applications/not-a-ulid"),
            client.get("/api/v1/configurations/not-a-ulid"),
            client.post(
                "/api/v1/configurations",
                json={"application_id": "not-a-ulid", "name": "p", "config": {}},
            ),
        ]

    assert [response.status_code for response in answers] == [422, 422, 422]


def secret_configurations(
    admin: httpx.Client, applications: list[dict[str, Any]], password: str
) -> dict[str, str]:
    """A configuration "production" with a secret `password` in each application: the id of
    each, by its application's id."""
    made = {}
    for application in applications:
        response = admin.post(
            "/api/v1/configurations",
            json={
                "application_id": application["id"],
                "name": "production",
                "config": {"password": password, "port": 1},
                "secrets": ["/password"],
            },
        )
        assert response.status_code == 201, response.text
        made[application["id"]] = response.json()["id"]
    return made


def test_a_binding_with_reveal_secrets_reveals_on_its_applications_only(
    identity_server: LiveServer, oidc_issuer: OidcIssuer
) -> None:
    admin = admin_client(identity_server)
    shown, hidden = create_application(admin), create_application(admin)
    configurations = secret_configurations(admin, [shown, hidden], "identity-canary")
    subject = unique_name("deployer")
    bind(admin, oidc_issuer, {"sub": subject}, applications=[shown["id"]], reveal_secrets=True)
    bind(admin, oidc_issuer, {"sub": subject}, applications=[hidden["id"]])
    token = as_token(oidc_issuer.token(oidc_issuer.claims(subject=subject)))

    with httpx.Client(base_url=identity_server.url, headers=token, timeout=30) as http:
        plain = http.get(f"/api/v1/configurations/{configurations[shown['id']]}")
        masked = http.get(f"/api/v1/configurations/{configurations[hidden['id']]}")
        again = http.get(f"/api/v1/values/{shown['name']}/production")

    assert (plain.json()["config"], plain.headers["etag"]) == (
        {"password": "identity-canary", "port": 1},
        '"1-revealed"',
    )
    assert (masked.json()["config"], masked.headers["etag"]) == (
        {"password": "********", "port": 1},
        '"1"',
    )
    assert again.json() == {"password": "identity-canary", "port": 1}
    records = admin.get("/api/v1/audit", params={"action": "configuration.revealed"}).json()
    mine = [record for record in records if record["subject"] == subject]
    assert [
        (record["issuer"], record["configuration_id"], record["revision_after"], record["key_id"])
        for record in mine
    ] == [(oidc_issuer.url, configurations[shown["id"]], 1, None)]
    admin.close()


def test_an_identity_unmarks_secrets_only_where_a_binding_lets_it_reveal(
    identity_server: LiveServer, oidc_issuer: OidcIssuer
) -> None:
    admin = admin_client(identity_server)
    shown, hidden = create_application(admin), create_application(admin)
    urls = {
        application_id: f"/api/v1/configurations/{configuration_id}"
        for application_id, configuration_id in secret_configurations(
            admin, [shown, hidden], "unmark-canary"
        ).items()
    }
    subject = unique_name("operator")
    # Writes everywhere; reveals on `shown` only (through a read binding).
    bind(admin, oidc_issuer, {"sub": subject}, role="write")
    bind(admin, oidc_issuer, {"sub": subject}, applications=[shown["id"]], reveal_secrets=True)
    token = as_token(oidc_issuer.token(oidc_issuer.claims(subject=subject)))

    with httpx.Client(base_url=identity_server.url, headers=token, timeout=30) as http:
        refused = http.put(urls[hidden["id"]], json={"secrets": []})
        allowed = http.put(urls[shown["id"]], json={"secrets": []})

    assert refused.status_code == 403, refused.text
    assert [error["pointer"] for error in refused.json()["errors"]] == ["/config/password"]
    assert "unmark-canary" not in refused.text
    assert admin.get(urls[hidden["id"]]).json()["config"] == {"password": "********", "port": 1}
    assert (allowed.status_code, allowed.json()["secrets"]) == (200, [])
    admin.close()
