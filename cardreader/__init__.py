"""Loyalty cards at the till: PC/SC chip reads through pyscard, our card application, barcode and typed fallback.

May import programme/ only. Every failure is a cardreader.errors.CardError with a message a cashier can act on.
"""
