-- Undo 007_audit_reveals: the rule of 006_identity_bindings comes back, NOT VALID, since the
-- audit log is append-only and keeps the records of reveals.
ALTER TABLE audit_log
    DROP CONSTRAINT audit_log_action,
    ADD CONSTRAINT audit_log_action CHECK (action IN (
        'application.created', 'application.updated', 'application.deleted',
        'configuration.created', 'configuration.updated', 'configuration.patched',
        'configuration.deleted', 'configuration.restored', 'key.created', 'key.revoked',
        'binding.created', 'binding.deleted'
    )) NOT VALID;
