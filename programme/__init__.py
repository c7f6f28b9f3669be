"""Pure domain of the loyalty programme: money, card numbers, tickets, points. No I/O."""
