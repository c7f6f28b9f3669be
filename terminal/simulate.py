"""Realistic simulated sales: a generated catalogue, 1-60 lines a basket, most baskets with a card."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

from programme.cardnumber import make_card_number
import msgspec

from programme.ticket import Line, make_line

# category, share of lines, price range in cents
CATEGORIES = [
    ("grocery", 30, (45, 650)),
    ("fresh", 18, (90, 1200)),
    ("dairy", 12, (60, 480)),
    ("drinks", 12, (70, 1500)),
    ("household", 8, (120, 900)),
    ("hygiene", 7, (150, 1100)),
    ("textile", 3, (499, 3999)),
    ("electronics", 1, (999, 19999)),
    ("tobacco", 2, (1050, 1250)),
    ("fuel", 1, (3000, 9000)),
    ("gift_card", 1, (1500, 5000)),
    ("deposit", 5, (10, 25)),
]
LABELS = {
    "grocery": ["pasta 500g", "rice 1kg", "coffee 250g", "biscuits", "olive oil 1l", "tomato sauce"],
    "fresh": ["baguette", "apples 1kg", "chicken breast", "salmon fillet", "salad", "tomatoes"],
    "dairy": ["milk 1l", "butter 250g", "yoghurt x8", "emmental 200g", "camembert", "cream"],
    "drinks": ["water 6x1.5l", "orange juice", "cola 1.5l", "red wine", "beer x6", "champagne"],
    "household": ["washing powder", "sponges", "bin bags", "kitchen roll", "dish soap"],
    "hygiene": ["shampoo", "toothpaste", "shower gel", "razors", "deodorant"],
    "textile": ["t-shirt", "socks x3", "towel", "jeans"],
    "electronics": ["headphones", "usb charger", "kettle", "toaster"],
    "tobacco": ["cigarettes"],
    "fuel": ["diesel"],
    "gift_card": ["gift card"],
    "deposit": ["bottle deposit"],
}


@dataclass(frozen=True)
class Article:
    gtin: str
    label: str
    category: str
    unit_cents: int


def catalogue(rng: random.Random, size: int = 2000) -> list[Article]:
    weights = [share for _, share, _ in CATEGORIES]
    articles = []
    for n in range(size):
        name, _, (low, high) = rng.choices(CATEGORIES, weights)[0]
        body = f"3{n:011d}"
        articles.append(Article(make_card_number(body), rng.choice(LABELS[name]), name, rng.randint(low, high)))
    return articles


def card_pool(rng: random.Random, size: int = 5000) -> list[str]:
    return [make_card_number(f"29{rng.randrange(10**10):010d}") for _ in range(size)]


class Shopper:
    """Draws baskets: skewed sizes (most small, some large), about `card_share` with a card."""

    def __init__(self, seed: int = 0, card_share: float = 0.6, cards: int = 5000, articles=None):
        """`articles`: what to sell (programme.catalogue.Article or Article here), by default a generated catalogue."""
        self.rng = random.Random(seed)
        self.articles = catalogue(self.rng) if articles is None else list(articles)
        self.cards = card_pool(self.rng, cards)
        self.card_share = card_share

    def basket(self, max_lines: int = 60) -> tuple[list[Line], str | None]:
        rng = self.rng
        size = min(max_lines, max(1, int(rng.expovariate(1 / 17))))
        lines = []
        for article in rng.sample(self.articles, min(size, len(self.articles))):
            quantity = 1 if rng.random() < 0.8 else rng.randint(2, 6)
            discount = article.unit_cents * quantity // 5 if rng.random() < 0.05 else 0
            lines.append(
                make_line(
                    article.gtin,
                    quantity,
                    article.unit_cents,
                    article.category,
                    article.label,
                    discount,
                    getattr(article, "vat_rate", msgspec.UNSET),
                )
            )
        # Pareto-ish loyalty: a few cards shop often.
        card = self.cards[int(len(self.cards) * rng.random() ** 3)] if rng.random() < self.card_share else None
        return lines, card

    def baskets(self, count: int) -> Iterator[tuple[list[Line], str | None]]:
        for _ in range(count):
            yield self.basket()
