"""What `lorebot run` shows about itself: Prometheus metrics, health and readiness over HTTP, log lines."""
