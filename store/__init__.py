"""The case store: models, migrations, the unit of work and the outbox."""
