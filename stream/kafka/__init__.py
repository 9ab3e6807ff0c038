"""The distributed driver: outbox relay → Kafka topics → faust agents running the stream step."""
