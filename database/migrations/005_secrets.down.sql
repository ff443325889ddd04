-- Undo 005_secrets. Refused while any configuration or revision holds secrets: without the
-- `secrets` column their envelopes would read as ordinary strings, and the values would be lost
-- for good: delete those configurations first. Audit records of reveals stay (records are never
-- deleted): the restored rule on actions is NOT VALID, so that they may.

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM configuration_revisions WHERE cardinality(secrets) > 0)
       OR EXISTS (SELECT 1 FROM configurations WHERE cardinality(secrets) > 0) THEN
        RAISE EXCEPTION 'cannot revert 005_secrets: configurations hold secret values, which would be lost; delete those configurations first';
    END IF;
END;
$$;

DROP TABLE secret_reveals;

ALTER TABLE audit_log DROP CONSTRAINT audit_log_action;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_action CHECK (action IN (
    'application.created', 'application.updated', 'application.deleted',
    'configuration.created', 'configuration.updated', 'configuration.patched',
    'configuration.deleted', 'configuration.restored', 'key.created', 'key.revoked'
)) NOT VALID;

ALTER TABLE api_keys DROP COLUMN reveal_secrets;
ALTER TABLE configuration_revisions DROP COLUMN secrets;
ALTER TABLE configurations DROP COLUMN secrets;
