"""Between the source and the sinks: tickets, fan-out, sink workers, dead letters, replay, retry."""
