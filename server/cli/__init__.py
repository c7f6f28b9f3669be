"""The server's click commands (`loyalty server`, `admin`, `office`...): parse, call, show."""
