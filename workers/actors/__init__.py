"""Per-domain actor registrations; each module registers its handlers with workers.registry."""
