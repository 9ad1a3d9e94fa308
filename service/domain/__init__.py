"""Pure domain: event types, validation, features, policies. No I/O."""
