"""The till: local journal, sale, sync with head office, and the cashier's screen."""
