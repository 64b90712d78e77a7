"""The pages a recipient reaches from an email, keyed by a signed token: unsubscribe, the
preference centre, undo, and the RFC 8058 one-click POST."""
