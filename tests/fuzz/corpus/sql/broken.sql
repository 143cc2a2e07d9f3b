SELECT 'a;b', $$ ; $$, $q$ ; $q$, E'\'';
ALTER TABLE;
DROP TABLE users
