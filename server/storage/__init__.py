"""The server's databases: connections on SQLite and PostgreSQL, the desk's tables, backup."""
