"""The composition root: the only place that reads Settings and chooses concrete adapters
(the app factory, the embedded and Kafka runtimes, the CLI, the worker entry)."""
