#!/usr/bin/env python3
"""Synthetic links for the benchmarks, in the export format of data/seed/.

Link `id` gets the short code `code(id)`: the 6-character base-62 form of `62**5 + id`
(digits 0-9, A-Z, a-z), so codes are unique, any tool can turn a random id into an existing
code without a list file, and they start with "1", so none is a path hop serves itself.
bench/wrk/hop.lua and bench/pgbench/functions.sql compute the same function.

Codes grow with ids (in byte order, which is how SQLite and a "C" collation compare). Bulk
loads then append to the short-code index instead of writing all over it, which makes loading
10M links several times faster; lookups still land anywhere in the index, because the
benchmarks draw ids at random.

    gen.py csv DIR --links N [--first ID] [--users U]   users.csv (when ID is 1) and urls.csv
    gen.py copy --links N [--first ID]                  urls as PostgreSQL COPY text on stdout
    gen.py sqlite DB --links N [--first ID]             urls inserted into a hop SQLite file
    gen.py codes FILE --links N [--count K]             K codes spread evenly over ids 1..N
    gen.py code ID...                                   print code(ID)

Users are ids 1..U (10,000 by default); link `id` belongs to user `1 + id % U`.
"""

import argparse
import csv
import os
import sqlite3
import sys

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
FIRST = 62**5  # the smallest 6-digit base-62 number, "100000"
MAX_ID = 62**5 - 1  # codes stay 6 characters starting with "1"
DEFAULT_USERS = 10_000
CREATED = "2025-06-01 12:00:00"


def code(link_id: int) -> str:
    value = FIRST + link_id
    chars = []
    for _ in range(6):
        value, digit = divmod(value, 62)
        chars.append(ALPHABET[digit])
    return "".join(reversed(chars))


def owner(link_id: int, users: int) -> int:
    return 1 + link_id % users


def url(link_id: int) -> str:
    return f"https://example.com/bench/{link_id}/landing"


def title(link_id: int) -> str:
    return f"Bench link {link_id}"


def link_ids(args) -> range:
    if args.links > MAX_ID:
        raise SystemExit(f"at most {MAX_ID} links")
    return range(args.first, args.links + 1)


def write_csv(args) -> None:
    os.makedirs(args.dir, exist_ok=True)
    if args.first == 1:
        with open(f"{args.dir}/users.csv", "w", newline="") as out:
            rows = csv.writer(out)
            rows.writerow(["id", "username", "email", "created_at"])
            for user_id in range(1, args.users + 1):
                name = f"bench{user_id}"
                rows.writerow([user_id, name, f"{name}@example.com", CREATED])
    with open(f"{args.dir}/urls.csv", "w", newline="", buffering=1 << 20) as out:
        out.write("id,user_id,short_code,original_url,title,is_active,created_at,updated_at\n")
        users = args.users
        out.writelines(
            f"{i},{owner(i, users)},{code(i)},{url(i)},{title(i)},True,{CREATED},{CREATED}\n"
            for i in link_ids(args)
        )


def write_copy(args) -> None:
    """Tab-separated COPY text for `urls (id, user_id, short_code, original_url, title,
    is_active, created_at, updated_at)`."""
    out = sys.stdout
    users = args.users
    batch = []
    for i in link_ids(args):
        batch.append(
            f"{i}\t{owner(i, users)}\t{code(i)}\t{url(i)}\t{title(i)}\tt\t{CREATED}\t{CREATED}\n"
        )
        if len(batch) == 100_000:
            out.writelines(batch)
            batch.clear()
    out.writelines(batch)


def write_sqlite(args) -> None:
    """Inserts links straight into a database whose users `hop import` already loaded."""
    db = sqlite3.connect(args.db)
    db.execute("PRAGMA synchronous = OFF")
    stamp = sqlite_time(db)
    users = args.users
    db.executemany(
        "INSERT INTO urls (id, user_id, short_code, original_url, title, is_active, "
        "created_at, updated_at) VALUES (?, ?, ?, ?, ?, 1, ?, ?)",
        ((i, owner(i, users), code(i), url(i), title(i), stamp, stamp) for i in link_ids(args)),
    )
    db.commit()
    db.close()


def sqlite_time(db) -> str:
    """A timestamp in the text form hop itself wrote for the imported users."""
    row = db.execute("SELECT created_at FROM users ORDER BY id LIMIT 1").fetchone()
    if row is None:
        raise SystemExit("import the users with `hop import` first")
    return CREATED.replace(" ", "T") if "T" in row[0] else CREATED


def write_codes(args) -> None:
    count = min(args.count, args.links)
    with open(args.file, "w") as out:
        for k in range(count):
            out.write(code(1 + k * args.links // count) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("csv", "copy", "sqlite", "codes"):
        cmd = sub.add_parser(name)
        if name == "csv":
            cmd.add_argument("dir")
        if name == "sqlite":
            cmd.add_argument("db")
        if name == "codes":
            cmd.add_argument("file")
            cmd.add_argument("--count", type=int, default=2_000)
        cmd.add_argument("--links", type=int, required=True)
        cmd.add_argument("--first", type=int, default=1)
        cmd.add_argument("--users", type=int, default=DEFAULT_USERS)
    one = sub.add_parser("code")
    one.add_argument("ids", type=int, nargs="+")
    args = parser.parse_args()

    if args.command == "code":
        print("\n".join(code(i) for i in args.ids))
        return
    {"csv": write_csv, "copy": write_copy, "sqlite": write_sqlite, "codes": write_codes}[
        args.command
    ](args)


if __name__ == "__main__":
    main()
