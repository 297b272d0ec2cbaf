//! The embedded MQTT broker.
