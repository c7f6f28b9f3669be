"""Head office: ticket ingest, customers and cards, analytics, the web app."""
