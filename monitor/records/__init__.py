"""What outlives the bed: sessions, charted events and the audit trail, in the database."""
