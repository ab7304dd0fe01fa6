"""The database: SQLAlchemy async models, engine, and Alembic upgrade."""
