"""All settings in one object, read once from FRAUD_* environment variables."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="FRAUD_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = Field(
        "development",
        description="`production` refuses unsafe defaults such as an empty API key list.",
    )
    model_dir: Path = Field(Path("models/current"), description="Model bundle directory to serve.")
    data_dir: Path = Field(Path("data"), description="Where the demo writes generated histories.")
    label_delay_days: float = Field(
        7.0,
        gt=0,
        description="Days after a transaction until its fraud label is known (chargeback delay).",
    )
    redis_url: str = Field("redis://127.0.0.1:6379/0", description="Online feature store.")
    database_url: str = Field(
        "postgresql://postgres@127.0.0.1:5432/postgres", description="Decision history."
    )
    kafka_bootstrap_servers: str = Field(
        "127.0.0.1:9092", description="Audit log brokers, comma-separated."
    )
    api_keys: str = Field(
        "",
        description="Comma-separated SHA-256 hex digests of the accepted API keys (`fraud keys create`).",
    )

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.environment == "production" and not self.api_key_digests:
            raise ValueError("FRAUD_API_KEYS must list at least one key digest in production")
        return self

    @property
    def api_key_digests(self) -> frozenset[str]:
        return frozenset(k.strip().lower() for k in self.api_keys.split(",") if k.strip())


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
