"""Services log one structured line per event: `{"event": "...", ...}` as JSON."""

import json
import logging


def log_event(logger: logging.Logger, event: str, level: int = logging.INFO, **fields) -> None:
    if logger.isEnabledFor(level):
        logger.log(level, json.dumps({"event": event, **fields}, default=str, separators=(",", ":")))


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(name)s %(message)s")
