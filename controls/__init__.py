"""The decision layer a fraud team controls without retraining: lists, rules and the order
in which they override the model's decision."""
