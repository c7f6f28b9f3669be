"""The welcome desk's domain: customers, cards, accounts, cheques, corrections, GDPR, expiry."""
