-- On TimescaleDB, 002 creates samples.code as bigint already (the TimescaleDB path had never
-- been released with int4), and a column type cannot change under compression anyway.
SELECT 1;
