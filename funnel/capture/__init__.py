"""Lead creation, import, channels (later scoring, routing and public intake)."""
