"""The database as a person meets it (the command line, the service's log): one way to say
what went wrong and what to do next (PostgreSQL down, wrong password, no such database, old schema)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # psycopg is imported when a command needs the database, not for --help
    import psycopg


def where(dsn: str) -> str:
    """``user@host:port/dbname`` of a connection string, never its password."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    try:
        info = conninfo_to_dict(dsn)
    except psycopg.ProgrammingError:
        return "(unparsable database URL)"
    return (f"{info.get('user') or '(default user)'}@{info.get('host') or 'localhost'}:"
            f"{info.get('port') or 5432}/{info.get('dbname') or '(default)'}")


def describe(err: psycopg.Error, dsn: str) -> str:
    """``err`` as a technician reads it: which database, what failed, what to do next."""
    import psycopg

    at = where(dsn)
    text = str(err).strip()
    low = text.lower()
    if isinstance(err, psycopg.errors.UndefinedTable | psycopg.errors.UndefinedColumn):
        return (f"数据库结构过旧 the schema of {at} is older than this version ({text}): "
                             "先执行 run `cloud-ingest migrate`")
    if "password authentication failed" in low or "no password supplied" in low:
        return (f"数据库拒绝登录 {at} refused the login (wrong password): 检查 check the "
                             "password in database.dsn / SFG_DATABASE_URL, database.password_env or "
                             "database.password_file")
    if "does not exist" in low and "database" in low:
        return (f"数据库不存在 no database {at}: 先创建 create it (`createdb`) or fix the "
                             "name in database.dsn / SFG_DATABASE_URL")
    if isinstance(err, psycopg.OperationalError) and ("connection" in low or "timeout" in low):
        return (f"数据库不可达 cannot reach PostgreSQL at {at}: {text.splitlines()[0]}; "
                             "检查 check that PostgreSQL runs (`systemctl status postgresql`), its host "
                             "and port in database.dsn / SFG_DATABASE_URL, and the firewall")
    return (f"数据库错误 database error at {at}: {text}")

