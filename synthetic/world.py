"""The static world the generator draws from: cities and merchant categories."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class City:
    name: str
    country: str
    currency: str
    latitude: float
    longitude: float
    utc_offset_minutes: int
    weight: float  # share of the card portfolio living there


# A US + European issuer: most cards live in the first few cities, the rest are
# travel and fraud destinations.
CITIES: tuple[City, ...] = (
    City("New York", "US", "USD", 40.7128, -74.0060, -300, 0.16),
    City("Chicago", "US", "USD", 41.8781, -87.6298, -360, 0.09),
    City("Los Angeles", "US", "USD", 34.0522, -118.2437, -480, 0.11),
    City("Houston", "US", "USD", 29.7604, -95.3698, -360, 0.06),
    City("Miami", "US", "USD", 25.7617, -80.1918, -300, 0.05),
    City("Seattle", "US", "USD", 47.6062, -122.3321, -480, 0.04),
    City("Boston", "US", "USD", 42.3601, -71.0589, -300, 0.04),
    City("Denver", "US", "USD", 39.7392, -104.9903, -420, 0.03),
    City("Toronto", "CA", "CAD", 43.6532, -79.3832, -300, 0.04),
    City("London", "GB", "GBP", 51.5074, -0.1278, 0, 0.09),
    City("Manchester", "GB", "GBP", 53.4808, -2.2426, 0, 0.03),
    City("Paris", "FR", "EUR", 48.8566, 2.3522, 60, 0.06),
    City("Berlin", "DE", "EUR", 52.5200, 13.4050, 60, 0.05),
    City("Madrid", "ES", "EUR", 40.4168, -3.7038, 60, 0.04),
    City("Amsterdam", "NL", "EUR", 52.3676, 4.9041, 60, 0.03),
    City("Milan", "IT", "EUR", 45.4642, 9.1900, 60, 0.03),
    City("Dublin", "IE", "EUR", 53.3498, -6.2603, 0, 0.01),
    City("Zurich", "CH", "CHF", 47.3769, 8.5417, 60, 0.01),
    City("Lagos", "NG", "USD", 6.5244, 3.3792, 60, 0.0),
    City("Bucharest", "RO", "EUR", 44.4268, 26.1025, 120, 0.0),
    City("Sao Paulo", "BR", "USD", -23.5505, -46.6333, -180, 0.0),
    City("Bangkok", "TH", "USD", 13.7563, 100.5018, 420, 0.0),
    City("Sydney", "AU", "AUD", -33.8688, 151.2093, 600, 0.0),
    City("Dubai", "AE", "USD", 25.2048, 55.2708, 240, 0.0),
)

# Destinations fraudsters use for cloned cards and takeovers.
FRAUD_CITY_NAMES: tuple[str, ...] = ("Lagos", "Bucharest", "Sao Paulo", "Bangkok", "Dubai", "Miami")


@dataclass(frozen=True, slots=True)
class Category:
    mcc: str
    name: str
    local_weight: float  # share of card-present spend
    online_weight: float  # share of e-commerce merchants
    median_amount: float


CATEGORIES: tuple[Category, ...] = (
    Category("5411", "grocery stores", 0.24, 0.02, 45.0),
    Category("5812", "restaurants", 0.17, 0.0, 38.0),
    Category("5814", "fast food", 0.12, 0.0, 12.0),
    Category("5541", "fuel stations", 0.09, 0.0, 48.0),
    Category("5912", "drug stores", 0.06, 0.03, 24.0),
    Category("5311", "department stores", 0.05, 0.10, 75.0),
    Category("5651", "clothing", 0.05, 0.14, 65.0),
    Category("5732", "electronics", 0.03, 0.12, 220.0),
    Category("5944", "jewelry", 0.01, 0.03, 380.0),
    Category("4111", "transit", 0.05, 0.03, 7.0),
    Category("5999", "miscellaneous retail", 0.05, 0.10, 35.0),
    Category("7011", "hotels", 0.02, 0.05, 170.0),
    Category("4511", "airlines", 0.0, 0.06, 340.0),
    Category("5815", "digital goods", 0.0, 0.16, 9.0),
    Category("5942", "book stores", 0.02, 0.05, 22.0),
    Category("5967", "direct marketing", 0.0, 0.06, 30.0),
    Category("7995", "gambling", 0.01, 0.03, 60.0),
    Category("4829", "money transfer", 0.01, 0.02, 140.0),
    Category("5947", "gift cards", 0.02, 0.05, 55.0),
)

ATM_MCC = "6011"

# Categories where takeovers and cloned cards cash out.
CASH_OUT_MCCS: tuple[str, ...] = ("5732", "5944", "5947", "4829", "5311")
# Categories card testers probe with small charges.
TESTING_MCCS: tuple[str, ...] = ("5815", "5967", "5999")
