"""Steady gateway traffic: every user is a checkout sending one authorisation per second,
drawn from the generated transactions (mixed channels, cards, merchants)."""

from __future__ import annotations

from locust import FastHttpUser, task

from loadtest.scenarios.traffic import HEADERS, next_body, poisson_wait


class GatewayUser(FastHttpUser):
    weight = 20
    wait_time = poisson_wait(1.0)

    @task
    def score(self) -> None:
        with self.client.post(
            "/v1/score", json=next_body(), headers=HEADERS, name="/v1/score", catch_response=True
        ) as response:
            if response.status_code != 200:
                response.failure(f"status {response.status_code}: {(response.text or '')[:200]}")
            elif response.json().get("degraded"):
                response.failure("degraded answer")
