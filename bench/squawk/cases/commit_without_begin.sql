CREATE TABLE a (id bigint);
COMMIT;
