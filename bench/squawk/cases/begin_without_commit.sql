BEGIN;
CREATE TABLE a (id bigint);
