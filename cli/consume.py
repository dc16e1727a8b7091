"""`fraud consume` wired from settings: the audit consumer and the alert dispatcher."""

from __future__ import annotations

import asyncio
from contextlib import suppress

import httpx

from app.settings import Settings
from persistence.alerts import AlertPolicy
from persistence.cases import CasePolicy
from persistence.consumer import AuditConsumer, ConsumerConfig
from persistence.dispatcher import AlertDispatcher, DispatchConfig
from persistence.sinks import EmailSink, PagerDutySink, Sink, SlackSink, WebhookSink


def alert_sinks(settings: Settings, client: httpx.AsyncClient) -> dict[str, Sink]:
    """The sinks the settings switch on, by name."""
    sinks: list[Sink] = []
    if settings.alert_webhook_url:
        sinks.append(WebhookSink(settings.alert_webhook_url, settings.alert_webhook_secret, client))
    if settings.alert_slack_webhook_url:
        sinks.append(SlackSink(settings.alert_slack_webhook_url, client))
    if settings.alert_pagerduty_routing_key:
        sinks.append(
            PagerDutySink(
                settings.alert_pagerduty_url, settings.alert_pagerduty_routing_key, client
            )
        )
    if settings.alert_smtp_host:
        sinks.append(
            EmailSink(
                settings.alert_smtp_host,
                settings.alert_smtp_port,
                settings.alert_email_from,
                tuple(a.strip() for a in settings.alert_email_to.split(",") if a.strip()),
                starttls=settings.alert_smtp_starttls,
                username=settings.alert_smtp_username,
                password=settings.alert_smtp_password,
            )
        )
    return {sink.name: sink for sink in sinks}


def consumer_config(settings: Settings, sinks: tuple[str, ...]) -> ConsumerConfig:
    return ConsumerConfig(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        topic=settings.audit_topic,
        group_id=settings.consumer_group,
        database_url=settings.database_url,
        schema=settings.database_schema,
        batch_size=settings.consumer_batch_size,
        batch_wait_ms=settings.consumer_batch_wait_ms,
        alerts=AlertPolicy(settings.alert_tier_set, sinks, settings.alert_dedup_s)
        if sinks
        else None,
        cases=CasePolicy.of(settings.case_on_decline),
    )


async def run_consumer(settings: Settings, stop: asyncio.Event) -> AuditConsumer:
    """Consume until `stop` is set; alerts are delivered alongside. Returns the consumer."""
    async with httpx.AsyncClient(timeout=10.0) as client:
        sinks = alert_sinks(settings, client)
        consumer = AuditConsumer(consumer_config(settings, tuple(sinks)))
        await consumer.migrate()  # the dispatcher reads the alerts table from the start
        dispatcher = AlertDispatcher(
            sinks,
            settings.database_url,
            settings.database_schema,
            DispatchConfig(
                rate_per_s=settings.alert_rate_per_s,
                max_attempts=settings.alert_max_attempts,
                retry_base_s=settings.alert_retry_base_s,
            ),
        )
        alerts = asyncio.create_task(dispatcher.run(stop)) if sinks else None
        try:
            await consumer.run(stop, migrate=False)
        finally:
            stop.set()
            if alerts is not None:
                with suppress(asyncio.CancelledError):
                    await alerts
        return consumer
