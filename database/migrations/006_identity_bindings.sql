-- 006_identity_bindings: what a verified identity token may do, and who it was in the audit log.
--
-- A binding lets in the tokens of one trusted issuer whose claims match `claims` (a JSON object
-- of claim name, or JSON Pointer, to a value or a list of values), with a role and, unless
-- `applications` is NULL, only on the applications listed, as an API key does.
--
-- The audit log learns binding.created and binding.deleted, and names an identity caller by its
-- issuer, its subject and the bindings that let it in (key_id and key_name stay NULL for it).

CREATE TABLE identity_bindings (
    id text COLLATE "C" PRIMARY KEY CONSTRAINT identity_bindings_id_is_ulid CHECK (id ~ '^[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
    name text NOT NULL CONSTRAINT identity_bindings_name_length CHECK (char_length(name) BETWEEN 1 AND 256),
    issuer text NOT NULL CONSTRAINT identity_bindings_issuer_length CHECK (char_length(issuer) BETWEEN 1 AND 2048),
    claims jsonb NOT NULL CONSTRAINT identity_bindings_claims_object CHECK (
        jsonb_typeof(claims) = 'object' AND claims <> '{}'::jsonb
    ),
    role text NOT NULL CONSTRAINT identity_bindings_role CHECK (role IN ('admin', 'write', 'read')),
    applications text[] COLLATE "C",
    reveal_secrets boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT identity_bindings_admin_reaches_everything CHECK (role <> 'admin' OR applications IS NULL)
);

CREATE INDEX identity_bindings_issuer_idx ON identity_bindings (issuer);

ALTER TABLE audit_log
    ADD COLUMN issuer text,
    ADD COLUMN subject text,
    ADD COLUMN binding_ids text[] COLLATE "C",
    DROP CONSTRAINT audit_log_action,
    ADD CONSTRAINT audit_log_action CHECK (action IN (
        'application.created', 'application.updated', 'application.deleted',
        'configuration.created', 'configuration.updated', 'configuration.patched',
        'configuration.deleted', 'configuration.restored', 'key.created', 'key.revoked',
        'binding.created', 'binding.deleted'
    )),
    DROP CONSTRAINT audit_log_target_type,
    ADD CONSTRAINT audit_log_target_type CHECK (
        target_type IN ('application', 'configuration', 'key', 'binding')
    );
