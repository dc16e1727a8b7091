"""The `fraud` command line, the demo and the traffic client: users of the engine, not part of it."""
