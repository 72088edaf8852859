"""Users, roles and their scopes (DESIGN.md "Users"; issue 5 §0)."""
