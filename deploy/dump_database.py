"""Dump the business database (alias `default`) to a gzipped SQL file.

Run by `fab backup:<env>` on a host, from the checkout with its settings:
`mysqldump --single-transaction` takes a consistent snapshot of InnoDB tables
without locking them, and restores with the schema exactly as the DBA applied it
(`dumpdata` would produce fixtures tied to the current models, slow and partial).
The password goes through a 0600 defaults file, never the command line.
"""

import argparse
import gzip
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", required=True)
    parser.add_argument("--database", default="default")
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings

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
        f"--host={config['HOST']}",
        f"--port={config['PORT']}",
        config["NAME"],
    ]
    try:
        with subprocess.Popen(command, stdout=subprocess.PIPE) as dump, gzip.open(output, "wb") as target:
            shutil.copyfileobj(dump.stdout, target, 1 << 20)
        if dump.returncode != 0:
            output.unlink(missing_ok=True)
            print(f"mysqldump exited with {dump.returncode}", file=sys.stderr)
            return 1
    finally:
        os.unlink(defaults.name)
    print(f"{output} {output.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
