"""Storage only: tables, sessions, the unit of work and migrations. No rule lives here."""
