"""The real-time side: fan-out of ai-events to WebSocket clients (run_services/realtime)."""
