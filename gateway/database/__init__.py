"""Storage: the SQLAlchemy declarative base, engine set-up and Alembic migrations."""
