-- 004_api_keys_and_audit: who may call the API, and a record of every change they make.
--
-- A key is stored as its HMAC-SHA-256 (keyed with API_KEY_PEPPER), never as itself; `prefix`
-- is the visible part that tells keys apart and finds the row to compare against. A key with
-- `applications` NULL reaches every application; otherwise only those listed.
--
-- audit_log has no foreign keys: its records outlive the applications, configurations and keys
-- they name. A trigger refuses UPDATE and DELETE on it, so records are only ever appended.

CREATE TABLE api_keys (
    id text COLLATE "C" PRIMARY KEY CONSTRAINT api_keys_id_is_ulid CHECK (id ~ '^[0-7][0-9A-HJKMNP-TV-Z]{25}$'),
    name text NOT NULL CONSTRAINT api_keys_name_length CHECK (char_length(name) BETWEEN 1 AND 256),
    prefix text COLLATE "C" NOT NULL CONSTRAINT api_keys_prefix_key UNIQUE,
    secret_hash bytea NOT NULL CONSTRAINT api_keys_secret_hash_length CHECK (length(secret_hash) = 32),
    role text NOT NULL CONSTRAINT api_keys_role CHECK (role IN ('admin', 'write', 'read')),
    applications text[] COLLATE "C",
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz,
    revoked_at timestamptz,
    created_by text COLLATE "C",
    CONSTRAINT api_keys_admin_reaches_everything CHECK (role <> 'admin' OR applications IS NULL)
);

CREATE TABLE audit_log (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at timestamptz NOT NULL DEFAULT clock_timestamp(),
    key_id text COLLATE "C",
    key_name text,
    action text NOT NULL CONSTRAINT audit_log_action CHECK (action IN (
        'application.created', 'application.updated', 'application.deleted',
        'configuration.created', 'configuration.updated', 'configuration.patched',
        'configuration.deleted', 'configuration.restored', 'key.created', 'key.revoked'
    )),
    target_type text NOT NULL CONSTRAINT audit_log_target_type CHECK (
        target_type IN ('application', 'configuration', 'key')
    ),
    target_id text COLLATE "C" NOT NULL,
    application_id text COLLATE "C",
    configuration_id text COLLATE "C",
    revision_before integer,
    revision_after integer,
    request_id text,
    client_address text
);

CREATE INDEX audit_log_application_id_id_idx ON audit_log (application_id, id);
CREATE INDEX audit_log_key_id_id_idx ON audit_log (key_id, id);

CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log records are never changed or deleted';
END;
$$;

CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
