"""The `loyalty` command: one entry point over every part (till, server, broker, card, demo...)."""
