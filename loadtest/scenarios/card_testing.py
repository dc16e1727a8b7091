"""A card-testing attack: a fraud ring cycles stolen cards through tiny e-commerce charges
from one device and IP, ten charges per card a second apart."""

from __future__ import annotations

import random

from locust import FastHttpUser, task

from loadtest.scenarios.traffic import HEADERS, next_body, poisson_wait


class CardTestingUser(FastHttpUser):
    weight = 1
    wait_time = poisson_wait(1.0)

    def on_start(self) -> None:
        self.device = f"ring_dev_{random.randrange(1000)}"
        self.ip = f"198.51.100.{random.randrange(1, 255)}"
        self.card = ""
        self.left = 0

    @task
    def probe(self) -> None:
        if self.left == 0:
            self.card, self.left = f"stolen_{random.randrange(10**9)}", 10
        self.left -= 1
        body = next_body(
            card_id=self.card,
            account_id=None,
            amount=round(random.uniform(0.5, 4.99), 2),
            channel="ecommerce",
            merchant_id="m_testing_1",
            merchant_category="5815",
            device_id=self.device,
            ip_address=self.ip,
        )
        body = {
            k: v for k, v in body.items() if v is not None and k not in ("latitude", "longitude")
        }
        with self.client.post(
            "/v1/score",
            json=body,
            headers=HEADERS,
            name="/v1/score [card testing]",
            catch_response=True,
        ) as response:
            if response.status_code != 200:
                response.failure(f"status {response.status_code}")
