"""AMI adapter: panoramisk 1.4 behind a thin client that frames bytes itself, checks liveness,
reconnects with backoff and resynchronises; plus the Asterisk channel operations."""
