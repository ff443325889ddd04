-- Undo 004_api_keys_and_audit: every key and every audit record is gone.
DROP TABLE audit_log;
DROP FUNCTION audit_log_append_only();
DROP TABLE api_keys;
