"""The `herald` command's database subcommands against a real PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERALD = Path(sys.executable).with_name("herald")


def test_migrate_reports_an_up_to_date_database(database_url: str) -> None:
    result = subprocess.run(
        [str(HERALD), "migrate"],
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == "database is up to date"


def test_create_tenant_prints_a_working_admin_key(database_url: str) -> None:
    # when
    result = subprocess.run(
        [str(HERALD), "create-tenant", "--name", "Initech"],
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        check=True,
    )

    # then
    key = result.stdout.split("admin API key (shown once): ")[1].strip()
    from herald.db.connection import Database
    from herald.services.auth import authenticate

    principal = authenticate(Database(database_url), f"Bearer {key}")
    assert "admin" in principal.scopes
