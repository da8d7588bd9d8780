"""The national centre: the service a customs administration runs beside its customs
information system (CIS). It takes the CIS's records in the formats national systems speak,
routes them signed to the boxes of the offices concerned, gives the CIS the boxes' events back,
and exchanges with partner countries' centres. Its storage is SQLite or PostgreSQL through one
SQLAlchemy schema; `carec-edge centre run` is its wiring (`centre.service`)."""
