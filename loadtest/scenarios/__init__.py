"""Locust scenarios; each module says which traffic it models."""
