"""The asynchronous side: audit events to Kafka with a disk spool (consumer, PostgreSQL and alerts to come)."""
