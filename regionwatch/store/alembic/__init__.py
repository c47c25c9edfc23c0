"""Alembic migrations of the store, shipped inside the package.

See :mod:`regionwatch.store.migrations`.
"""
