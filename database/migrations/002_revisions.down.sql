-- Undo 002_revisions: the history is dropped with its table.
DROP TABLE configuration_revisions;
ALTER TABLE configurations DROP COLUMN schema, DROP COLUMN revision;
ALTER TABLE applications DROP COLUMN version, DROP COLUMN revision;
