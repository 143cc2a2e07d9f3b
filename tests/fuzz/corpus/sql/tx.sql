BEGIN;
/* nested /* comment */ here */
CREATE TABLE t (id bigserial PRIMARY KEY, v text NOT NULL);
CREATE INDEX CONCURRENTLY t_v ON t (v);
TRUNCATE other CASCADE;
DELETE FROM x;
UPDATE y SET a = 1;
