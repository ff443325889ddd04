-- 005_secrets: secret values in configurations, encrypted at rest, and who may reveal them.
--
-- `secrets` lists the JSON Pointers (RFC 6901) into `config` whose values are secret. At each
-- of them the stored `config` holds, instead of the value, an envelope string
-- `cs-secret:v1:<key id>:<base64url of nonce, ciphertext and tag>` (AES-256-GCM under a key of
-- SECRETS_KEYS, bound to the configuration's id and the location): no secret value is ever
-- stored in plain text, in the current row or in any revision. Rotation re-encrypts envelopes
-- in place (the values, and so the revisions' contents, stay the same).
--
-- api_keys.reveal_secrets: the key's reads show secret values; every other read shows the
-- placeholder "********". secret_reveals remembers who has read which revision revealed, so
-- that only the first such read of each revision by each reader is audited
-- ('configuration.revealed', which 007_audit_reveals adds to the audit log's actions: it comes
-- after 006_identity_bindings, which redefines them); it keeps no values.

ALTER TABLE configurations
    ADD COLUMN secrets text[] NOT NULL DEFAULT '{}'
        CONSTRAINT configurations_secrets_count CHECK (cardinality(secrets) <= 256);

ALTER TABLE configuration_revisions
    ADD COLUMN secrets text[] NOT NULL DEFAULT '{}'
        CONSTRAINT configuration_revisions_secrets_count CHECK (cardinality(secrets) <= 256);

ALTER TABLE api_keys ADD COLUMN reveal_secrets boolean NOT NULL DEFAULT false;

-- No foreign keys, like audit_log: a reveal stays recorded after the configuration is gone.
CREATE TABLE secret_reveals (
    reader text NOT NULL,
    configuration_id text NOT NULL,
    revision integer NOT NULL,
    first_revealed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (reader, configuration_id, revision)
);

-- rotate-secrets walks the configurations and revisions that hold secrets, by id.
CREATE INDEX configurations_with_secrets_idx ON configurations (id) WHERE cardinality(secrets) > 0;
CREATE INDEX configuration_revisions_with_secrets_idx
    ON configuration_revisions (configuration_id, revision) WHERE cardinality(secrets) > 0;
