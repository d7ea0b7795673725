"""Apply the plain SQL files in db/migrations in order, once each, under an advisory lock."""

from __future__ import annotations

from importlib import resources

import psycopg

# Any constant works; it only has to be the same for every process that migrates.
_LOCK_ID = 7_418_260_501


def migration_files() -> list[tuple[str, str]]:
    """Return (name, sql) for every migration, sorted by name."""
    folder = resources.files("herald.db") / "migrations"
    files = sorted(
        (entry.name, entry.read_text(encoding="utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".sql")
    )
    return files


def migrate(url: str, prepare_threshold: int | None = None) -> list[str]:
    """Apply pending migrations; return the names applied. Safe to run concurrently."""
    applied: list[str] = []
    with psycopg.connect(url, autocommit=True, prepare_threshold=prepare_threshold) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (_LOCK_ID,))
        try:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                " name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = {row[0] for row in conn.execute("SELECT name FROM schema_migrations")}
            for name, sql in migration_files():
                if name in done:
                    continue
                with conn.transaction():
                    conn.execute(sql.encode())
                    conn.execute("INSERT INTO schema_migrations (name) VALUES (%s)", (name,))
                applied.append(name)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_ID,))
    return applied
