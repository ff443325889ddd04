-- 007_audit_reveals: the audit log takes 'configuration.revealed' (a read that showed secret
-- values, see 005_secrets) besides the actions 006_identity_bindings lists. It is a migration of
-- its own, after 006, so that a database that had 006 before 005 (the two were written side by
-- side) gets the same rule as one that had them in order.

ALTER TABLE audit_log
    DROP CONSTRAINT audit_log_action,
    ADD CONSTRAINT audit_log_action CHECK (action IN (
        'application.created', 'application.updated', 'application.deleted',
        'configuration.created', 'configuration.updated', 'configuration.patched',
        'configuration.deleted', 'configuration.restored', 'configuration.revealed',
        'key.created', 'key.revoked', 'binding.created', 'binding.deleted'
    ));
