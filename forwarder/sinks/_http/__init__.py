"""What every HTTP sink shares: for now its TLS settings, context and warnings (more is to move here)."""
