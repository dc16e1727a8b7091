"""The live stream of decisions for the console: per-client buffers, per-second aggregates, the Kafka feed."""
