ALTER TABLE orders ADD COLUMN token uuid DEFAULT uuidv7();
