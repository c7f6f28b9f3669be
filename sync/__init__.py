"""MQTT transport between tills and head office: topics, codec, durable outbox, acks and resend."""
