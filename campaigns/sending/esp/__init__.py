"""ESP batch sending: one API call per chunk, the ESP only substituting values we computed."""
