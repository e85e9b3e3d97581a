"""Review-queue databases for tests: SQLite files, and a throw-away PostgreSQL server.

`db_url` is parametrised over both backends, so every test that takes it runs twice. The
PostgreSQL server is started once per session in a temp folder with Debian's ``pg_ctl``
(``/usr/lib/postgresql/<ver>/bin``), listening on 127.0.0.1 only, with trust auth and no
fsync (it is deleted afterwards), and each test gets its own fresh database on it.

PostgreSQL refuses to run as root, and CI runs ``make test`` as root: then the server runs as
the unprivileged ``postgres`` user that the Debian package creates (``runuser -u postgres``).
pytest-postgresql was not used because it starts ``pg_ctl`` as the current user.

Environment:
- ``RECALLGUARD_TEST_POSTGRES_URL``: use this server (a database it may create databases on)
  instead of starting one, e.g. ``postgresql+psycopg://me@localhost/postgres``.
- ``RECALLGUARD_REQUIRE_POSTGRES=1`` (set by ``make test``): a missing PostgreSQL fails the
  PostgreSQL runs instead of skipping them.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

SERVER_USER = "postgres"  # the account Debian's postgresql package creates


def pg_bin(name: str) -> str | None:
    """A PostgreSQL server program: Debian keeps them off PATH, newest version first."""
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=_version, reverse=True)
    return found[0] if found else shutil.which(name)


def _version(path: str) -> int:
    part = Path(path).parts[-3]
    return int(part) if part.isdigit() else 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class TempPostgres:
    """A PostgreSQL server in a temp folder: `start()`, `create_database()`, `stop()`."""

    def __init__(self) -> None:
        initdb, pg_ctl = pg_bin("initdb"), pg_bin("pg_ctl")
        if initdb is None or pg_ctl is None:
            raise FileNotFoundError("PostgreSQL server programs (initdb, pg_ctl) are not installed")
        self.initdb, self.pg_ctl = initdb, pg_ctl
        self.as_user: list[str] = []
        self.root = Path(tempfile.mkdtemp(prefix="recallguard-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self.root, user=SERVER_USER)
            self.as_user = ["runuser", "-u", SERVER_USER, "--"]
        self.data = self.root / "data"
        self.port = _free_port()
        self.url = f"postgresql+psycopg://recallguard@127.0.0.1:{self.port}/postgres"

    def _run(self, *cmd: str) -> None:
        proc = subprocess.run(
            [*self.as_user, *cmd],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            cwd=self.root,  # the server user may not enter the caller's folder
        )
        if proc.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{cmd[0]} failed: {proc.stdout}{proc.stderr}{tail}")

    def start(self) -> TempPostgres:
        self._run(self.initdb, "-D", str(self.data), "-U", "recallguard", "--auth=trust",
                  "-E", "UTF8", "--no-locale", "--no-sync")  # fmt: skip
        options = (
            f"-p {self.port} -h 127.0.0.1 -k {self.root} -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
        )
        self._run(self.pg_ctl, "-D", str(self.data), "-l", str(self.root / "server.log"),
                  "-o", options, "-w", "-t", "60", "start")  # fmt: skip
        return self

    def stop(self) -> None:
        try:
            self._run(self.pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


def create_database(server_url: str) -> str:
    """A new empty database on the server -> its URL."""
    import psycopg

    url = make_url(server_url)
    name = f"rg_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_libpq(server_url), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return url.set(database=name).render_as_string(hide_password=False)


def drop_database(server_url: str, db_url: str) -> None:
    import psycopg

    name = make_url(db_url).database
    with psycopg.connect(_libpq(server_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """The URL of a PostgreSQL server to create test databases on."""
    given = os.environ.get("RECALLGUARD_TEST_POSTGRES_URL", "").strip()
    if given:
        yield given
        return
    try:
        server = TempPostgres()
    except FileNotFoundError as exc:
        if os.environ.get("RECALLGUARD_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{exc}; `make test` installs Debian's postgresql")
        pytest.skip(f"{exc}: run `make test`, which installs it, to test the PostgreSQL path")
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty review database URL on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'data' / 'review.sqlite3'}"
        return
    server = request.getfixturevalue("postgres_server")
    url = create_database(server)
    try:
        yield url
    finally:
        drop_database(server, url)


@pytest.fixture
def pg_url(postgres_server: str) -> Iterator[str]:
    """A fresh, empty database on the PostgreSQL server only (for PostgreSQL-only behaviour)."""
    url = create_database(postgres_server)
    try:
        yield url
    finally:
        drop_database(postgres_server, url)
