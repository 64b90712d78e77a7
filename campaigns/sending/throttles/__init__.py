"""How fast promotional mail may go: per stream, per mailbox provider, per warm-up day."""
