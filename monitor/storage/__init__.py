"""Storage through SQLAlchemy: the database, its tables and migrations, and named queries.

Knows nothing of the bus or the API: the live writer and the records call it.
"""
