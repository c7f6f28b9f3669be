"""The till's local HTTP API for an existing POS (`loyalty till serve`): the same TillSession as the screen."""
