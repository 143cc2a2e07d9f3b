ALTER TABLE orders ADD COLUMN token uuid DEFAULT uuid();
