"""Dump the business database (alias `default`) to a gzipped SQL file, without its secrets.

Run by `fab backup:<env>` on a host, from the live release with its settings:
`mysqldump --single-transaction` takes a consistent snapshot of InnoDB tables
without locking them, and restores with the schema exactly as the DBA applied it
(`dumpdata` would produce fixtures tied to the current models, slow and partial).
The password goes through a 0600 defaults file, never the command line.

A backup travels to the operator's machine, so the columns in BLANKED hold ''
in it: WeChat's session_key (a user gets a new one at their next login) and the
mini-programs' app secrets (`manage.py sync_miniprograms` writes them back from
WECHAT_MINIPROGRAMS). mysqldump dumps those tables' schema; their rows are read
right after its snapshot, so every user a dumped row refers to is in them.
"""

import argparse
import gzip
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).absolute().parent.parent
sys.path.insert(0, str(ROOT))

# table -> columns written as '' (every other column as stored)
BLANKED = {"accounts_wxuser": ("session_key",), "accounts_miniprogram": ("secret",)}


def blanked_rows(connection, table: str, blanked: tuple[str, ...]):
    """INSERT statements for every row of `table`, with the `blanked` columns as ''."""
    from pymysql.converters import escape_item

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM `{table}` ORDER BY 1")  # noqa: S608 - table names from BLANKED
        columns = [column[0] for column in cursor.description]
        names = ", ".join(f"`{name}`" for name in columns)
        for row in cursor:
            values = ", ".join(
                "''" if name in blanked else escape_item(value, "utf8mb4")
                for name, value in zip(columns, row, strict=True)
            )
            yield f"INSERT INTO `{table}` ({names}) VALUES ({values});\n"  # noqa: S608 - values escaped


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", required=True)
    parser.add_argument("--database", default="default")
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.db import connections

    config = settings.DATABASES[args.database]
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", prefix="mysqldump-", suffix=".cnf", delete=False) as defaults:
        os.chmod(defaults.name, 0o600)
        defaults.write(f"[client]\nuser={config['USER']}\npassword={config['PASSWORD']}\n")
    command = [
        "mysqldump",
        f"--defaults-extra-file={defaults.name}",
        "--single-transaction",
        "--quick",
        "--routines",
        "--triggers",
        "--hex-blob",
        "--no-tablespaces",
        "--default-character-set=utf8mb4",
        *(f"--ignore-table-data={config['NAME']}.{table}" for table in BLANKED),
        f"--host={config['HOST']}",
        f"--port={config['PORT']}",
        config["NAME"],
    ]
    try:
        with subprocess.Popen(command, stdout=subprocess.PIPE) as dump, gzip.open(output, "wb") as target:
            shutil.copyfileobj(dump.stdout, target, 1 << 20)
            dump.wait()
            if dump.returncode == 0:
                target.write(b"SET NAMES utf8mb4;\nSET FOREIGN_KEY_CHECKS=0;\n")
                for table, columns in BLANKED.items():
                    target.write(f"-- {table}: {', '.join(columns)} left out (blank)\n".encode())
                    for statement in blanked_rows(connections[args.database], table, columns):
                        target.write(statement.encode())
                target.write(b"SET FOREIGN_KEY_CHECKS=1;\n")
        if dump.returncode != 0:
            output.unlink(missing_ok=True)
            print(f"mysqldump exited with {dump.returncode}", file=sys.stderr)
            return 1
    finally:
        os.unlink(defaults.name)
    blank = ", ".join(f"{table}.{column}" for table, columns in BLANKED.items() for column in columns)
    print(f"{output} {output.stat().st_size} bytes; left out (blank): {blank}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
