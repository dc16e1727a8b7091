"""The scoring core, free of transport: a plain transaction in, a decision out (windows from the
store, features, the compiled ensemble, tier, decision, reasons)."""
