"""The baseline: a bare Flask app that inserts the posted JSON into one table and commits.

It does what any publish must do at least (parse JSON, one INSERT, one COMMIT) and nothing the
hub adds (auth, validation, versions, events), on the same server and database as the hub.
Run under gunicorn: ``gunicorn 'bench.bare_app:create_app()'`` with ``BARE_DATABASE_URL`` set.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, request
from sqlalchemy import JSON, Column, Engine, Integer, MetaData, String, Table, create_engine, insert
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()
bare_records = Table(
    "bare_records",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("key", String(128), nullable=False),
    Column("data", JSON().with_variant(JSONB(), "postgresql"), nullable=False),
)


def _engine(url: str) -> Engine:
    connect_args: dict[str, Any] = {"check_same_thread": False} if url.startswith("sqlite") else {}
    return create_engine(url, pool_size=10, connect_args=connect_args)


def create_schema(url: str) -> None:
    """Create the baseline's table (before the server starts, not in each worker)."""
    engine = _engine(url)
    with engine.begin() as connection:
        if url.startswith("sqlite"):
            connection.exec_driver_sql("PRAGMA journal_mode = WAL")
        metadata.create_all(connection)
    engine.dispose()


def create_app() -> Flask:
    """The baseline app on ``BARE_DATABASE_URL``."""
    engine = _engine(os.environ["BARE_DATABASE_URL"])
    app = Flask(__name__)

    @app.put("/records/<key>")
    def put_record(key: str) -> tuple[dict[str, Any], int]:
        data = request.get_json()
        with engine.begin() as connection:
            connection.execute(insert(bare_records), {"key": key, "data": data})
        return {"key": key}, 201

    @app.post("/batch")
    def batch() -> dict[str, Any]:
        items = request.get_json()["records"]
        with engine.begin() as connection:
            connection.execute(
                insert(bare_records), [{"key": i["key"], "data": i["data"]} for i in items]
            )
        return {"results": [{"key": i["key"], "status": 201} for i in items]}

    return app
