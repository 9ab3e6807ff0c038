"""Deployment tests: real `serve --role api` and `worker` processes on a real Kafka broker,
under paced load and faults (harness.py, load.py, evidence.py)."""
