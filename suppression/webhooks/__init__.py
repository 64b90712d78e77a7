"""ESP webhooks: the endpoints (who may post, how payloads are read) and the ledger receiver."""
