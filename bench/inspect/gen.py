#!/usr/bin/env python3
"""Writes a realistic PostgreSQL migration of about SIZE bytes to PATH: a deterministic mix
of CREATE TABLE, ALTER TABLE ADD COLUMN, CREATE INDEX, UPDATE, comments and a few risky
statements (a NOT NULL column without a default, an index built without CONCURRENTLY, an
UPDATE without WHERE). Usage: gen.py SIZE PATH [SEED]"""
import random
import sys


def statements(rng):
    n = 0
    while True:
        n += 1
        t = f"app_table_{n % 997}"
        kind = rng.randrange(20)
        if kind < 4:
            cols = ",\n".join(
                f"    col_{i} {rng.choice(['text', 'bigint', 'timestamptz', 'boolean DEFAULT false', 'numeric(12,2)'])}"
                for i in range(rng.randrange(3, 9)))
            yield f"-- table {n}\nCREATE TABLE IF NOT EXISTS {t}_{n} (\n    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,\n{cols}\n);\n"
        elif kind < 9:
            yield f"ALTER TABLE {t} ADD COLUMN extra_{n} text;\n"
        elif kind < 12:
            yield f"CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_{t}_{n} ON {t} (col_{n % 7}, created_at);\n"
        elif kind < 16:
            yield (f"UPDATE {t} SET status = 'archived', updated_at = now()\n"
                   f" WHERE id BETWEEN {n * 1000} AND {n * 1000 + 999} AND status <> 'archived';\n")
        elif kind < 17:
            yield f"ALTER TABLE {t} ADD COLUMN required_{n} integer NOT NULL;\n"  # risky
        elif kind < 18:
            yield f"CREATE INDEX idx_plain_{n} ON {t} (col_{n % 5});\n"  # risky
        elif kind < 19:
            yield f"INSERT INTO settings (key, value) VALUES ('flag_{n}', '{{\"on\": true}}') ON CONFLICT (key) DO NOTHING;\n"
        else:
            yield f"UPDATE {t} SET counter = 0;\n"  # risky: no WHERE


def main():
    size, path = int(sys.argv[1]), sys.argv[2]
    rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 13)
    out, total = [], 0
    for s in statements(rng):
        if total + len(s) > size:
            break
        out.append(s)
        total += len(s)
    with open(path, "w") as f:
        f.write("".join(out))


main()
