"""`python -m bench` (make bench): run every benchmark and rewrite docs/performance.md."""
from .ingest import main

main()
