"""How the engine performs as labels arrive: the figures of `fraud report` and of
GET /v1/reports/performance, from stored decisions and their effective labels."""
