"""Head office's check of the tills' closures and journals (NF525)."""
