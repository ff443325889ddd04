-- Undo 006_identity_bindings: every binding is gone. Audit records of bindings stay (the log is
-- append-only), so the narrower checks come back NOT VALID: they hold for new records only.
DROP TABLE identity_bindings;

ALTER TABLE audit_log
    DROP COLUMN issuer,
    DROP COLUMN subject,
    DROP COLUMN binding_ids,
    DROP CONSTRAINT audit_log_action,
    ADD CONSTRAINT audit_log_action CHECK (action IN (
        'application.created', 'application.updated', 'application.deleted',
        'configuration.created', 'configuration.updated', 'configuration.patched',
        'configuration.deleted', 'configuration.restored', 'key.created', 'key.revoked'
    )) NOT VALID,
    DROP CONSTRAINT audit_log_target_type,
    ADD CONSTRAINT audit_log_target_type CHECK (
        target_type IN ('application', 'configuration', 'key')
    ) NOT VALID;
