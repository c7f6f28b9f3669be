"""The cashier's screens: the sale screen and its panels."""
