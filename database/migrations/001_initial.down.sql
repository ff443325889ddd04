-- Reverts 001_initial. Destroys every application and configuration.

DROP TABLE configurations;
DROP TABLE applications;
