-- add a column, then an index
SET lock_timeout = '1s';
ALTER TABLE orders ADD COLUMN token uuid DEFAULT gen_random_uuid(), DROP COLUMN legacy;
CREATE INDEX orders_token ON orders (token);
ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (c) REFERENCES customers (id) NOT VALID;
ALTER TABLE orders VALIDATE CONSTRAINT fk;
