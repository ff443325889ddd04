-- Undo 003_change_log: the change log is dropped; clients that resume from a position get a reset.
DROP TABLE change_log;
DROP TABLE change_log_head;
