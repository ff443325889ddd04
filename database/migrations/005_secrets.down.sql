-- Undo 005_secrets. Refused while any configuration or revision holds secrets: without the
-- `secrets` column their envelopes would read as ordinary strings, and the values would be lost
-- for good: delete those configurations first. (The audit log's actions are 007_audit_reveals'.)

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM configuration_revisions WHERE cardinality(secrets) > 0)
       OR EXISTS (SELECT 1 FROM configurations WHERE cardinality(secrets) > 0) THEN
        RAISE EXCEPTION 'cannot revert 005_secrets: configurations hold secret values, which would be lost; delete those configurations first';
    END IF;
END;
$$;

DROP TABLE secret_reveals;

ALTER TABLE api_keys DROP COLUMN reveal_secrets;
ALTER TABLE configuration_revisions DROP COLUMN secrets;
ALTER TABLE configurations DROP COLUMN secrets;
