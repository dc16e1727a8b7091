"""Prior risk of merchant categories (ISO 18245 MCCs).

A fixed domain table, not learned from labels: it encodes what every fraud team
knows (cash-like and digital goods are attacked more than groceries) and stays
identical offline and online.
"""

from __future__ import annotations

MCC_RISK: dict[str, float] = {
    "4829": 0.9,  # money transfer
    "6011": 0.6,  # ATM cash
    "5944": 0.8,  # jewelry
    "5732": 0.8,  # electronics
    "5947": 0.8,  # gift cards
    "7995": 0.7,  # gambling
    "5815": 0.6,  # digital goods
    "5967": 0.6,  # direct marketing
    "4511": 0.5,  # airlines
    "5999": 0.4,  # miscellaneous retail
    "7011": 0.4,  # hotels
    "5311": 0.4,  # department stores
    "5651": 0.3,  # clothing
    "5942": 0.2,  # books
    "5912": 0.2,  # drug stores
    "5541": 0.2,  # fuel
    "4111": 0.1,  # transit
    "5812": 0.1,  # restaurants
    "5814": 0.1,  # fast food
    "5411": 0.1,  # grocery
}
DEFAULT_RISK = 0.3
CASH_LIKE: frozenset[str] = frozenset({"4829", "6011", "5944", "5732", "5947", "7995"})


def mcc_risk(mcc: str) -> float:
    return MCC_RISK.get(mcc, DEFAULT_RISK)
