"""Plate crops leave the readings' rows: each base64 JPEG a plate reading carried becomes a file
under <data_dir>/crops (edge.crops) and the row keeps its reference (`"crop"`). A database in
memory has no data directory: its rows stay as they are (the code reads both forms).

Revision ID: 0007
Revises: 0006
"""

import base64
import binascii
import datetime as dt
import json
from pathlib import Path

import sqlalchemy as sa
from alembic import op

from edge.crops import CROPS_DIR, CropStore

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_BATCH = 500


def _database_dir(connection: sa.Connection) -> Path | None:
    for _seq, name, file in connection.exec_driver_sql("PRAGMA database_list"):
        if name == "main" and file:
            return Path(file).parent
    return None


def upgrade() -> None:
    connection = op.get_bind()
    folder = _database_dir(connection)
    if folder is None:
        return
    # No quota while converting: the service applies its own at the first save or purge.
    crops = CropStore(folder / CROPS_DIR, 1 << 62, dt.timedelta(days=36_500))
    select = sa.text(
        "SELECT arrival_id, seq, at, reading FROM arrival_readings"
        " WHERE kind = 'plate' AND json_extract(reading, '$.crop_jpeg') IS NOT NULL"
        " LIMIT :batch"
    )
    update = sa.text(
        "UPDATE arrival_readings SET reading = :reading WHERE arrival_id = :arrival AND seq = :seq"
    )
    while rows := connection.execute(select, {"batch": _BATCH}).all():
        for arrival_id, seq, at, text in rows:
            data = json.loads(text)
            try:
                jpeg = base64.b64decode(data.pop("crop_jpeg"), validate=True)
            except (binascii.Error, TypeError):
                jpeg = b""  # not an image: nothing to keep
            if jpeg:
                data["crop"] = crops.save(jpeg, dt.datetime.fromisoformat(at))
            reading = json.dumps(data, ensure_ascii=False)
            connection.execute(update, {"reading": reading, "arrival": arrival_id, "seq": seq})


def downgrade() -> None:
    connection = op.get_bind()
    folder = _database_dir(connection)
    if folder is None:
        return
    crops = CropStore(folder / CROPS_DIR, 1 << 62, dt.timedelta(days=36_500))
    rows = connection.execute(
        sa.text(
            "SELECT arrival_id, seq, reading FROM arrival_readings"
            " WHERE kind = 'plate' AND json_extract(reading, '$.crop') IS NOT NULL"
        )
    ).all()
    for arrival_id, seq, text in rows:
        data = json.loads(text)
        jpeg = crops.load(data.pop("crop"))
        if jpeg is not None:
            data["crop_jpeg"] = base64.b64encode(jpeg).decode("ascii")
        connection.execute(
            sa.text(
                "UPDATE arrival_readings SET reading = :reading"
                " WHERE arrival_id = :arrival AND seq = :seq"
            ),
            {"reading": json.dumps(data, ensure_ascii=False), "arrival": arrival_id, "seq": seq},
        )
