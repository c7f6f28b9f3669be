"""Head office analytics: daily aggregates, customer value, deciles, RFM, points liability, segments, campaigns.

Everything here reads the server's SQLite file through a plain connection; the web pages and the
commands only call these functions and show their results (see docs/headoffice.md).
"""
