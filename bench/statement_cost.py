"""CPU per SQL statement through the layers Atiende uses (a probe behind bench/README.md's
"where the time goes"): SQLAlchemy Core on an autocommit connection (statement built per call,
as the services do; built once with a bind parameter), a BEGIN/UPDATE/COMMIT unit of work, and
asyncpg directly. Needs PostgreSQL on 127.0.0.1 (postgres, trust); uses a throw-away table.

    .venv/bin/python bench/statement_cost.py [--n 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

from sqlalchemy import Column, Integer, MetaData, String, Table, bindparam, insert, lambda_stmt, select, update

from shared.db import Database
from shared.outbox import messaging_tables

URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


async def main(n: int) -> None:
    md = MetaData(schema="public")
    t = Table(f"bench_stmt_{uuid.uuid4().hex[:8]}", md, Column("id", Integer, primary_key=True),
              Column("name", String(50)))
    outbox, _ = messaging_tables(MetaData(schema="public"))
    db = Database(URL, "public", outbox)
    async with db.transaction() as tx:
        await tx.conn.run_sync(md.create_all)
        await tx.conn.execute(insert(t), [{"id": i, "name": f"n{i}"} for i in range(100)])
    prebuilt = select(t.c.id, t.c.name).where(t.c.id == bindparam("k"))

    async def built_per_call() -> None:
        async with db.read() as conn:
            for i in range(n):
                (await conn.execute(select(t.c.id, t.c.name).where(t.c.id == i % 100))).first()

    async def built_once() -> None:
        async with db.read() as conn:
            for i in range(n):
                (await conn.execute(prebuilt, {"k": i % 100})).first()

    async def lambda_statement() -> None:
        async with db.read() as conn:
            for i in range(n):
                k = i % 100
                # lambda_stmt reads k from the closure at each call: that is the point here
                (await conn.execute(lambda_stmt(lambda: select(t.c.id, t.c.name).where(t.c.id == k)))).first()  # noqa: B023

    async def unit_of_work() -> None:
        for i in range(n):
            async with db.transaction() as tx:
                await tx.conn.execute(update(t).where(t.c.id == i % 100).values(name="x"))

    async def raw_asyncpg() -> None:
        async with db.read() as conn:
            raw = (await conn.get_raw_connection()).driver_connection
            for i in range(n):
                await raw.fetchrow(f"SELECT id, name FROM public.{t.name} WHERE id = $1", i % 100)

    try:
        for label, fn in (("SQLAlchemy Core SELECT, statement built per call", built_per_call),
                          ("SQLAlchemy Core SELECT, statement built once", built_once),
                          ("SQLAlchemy Core SELECT, lambda_stmt", lambda_statement),
                          ("SQLAlchemy unit of work: BEGIN, UPDATE, COMMIT", unit_of_work),
                          ("asyncpg SELECT directly", raw_asyncpg)):
            c0, w0 = time.process_time(), time.perf_counter()
            await fn()
            c1, w1 = time.process_time(), time.perf_counter()
            print(f"{label}: CPU {1e6 * (c1 - c0) / n:.0f} µs, wall {1e6 * (w1 - w0) / n:.0f} µs per operation")
    finally:
        async with db.transaction() as tx:
            await tx.conn.run_sync(md.drop_all)
        await db.dispose()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2000)
    try:
        import uvloop
        uvloop.run(main(ap.parse_args().n))
    except ImportError:
        asyncio.run(main(ap.parse_args().n))
