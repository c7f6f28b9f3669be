"""The MQTT side of head office: tickets in, their checks and store, tills' requests answered, what goes to tills."""
