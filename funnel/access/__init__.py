"""Roles, the permission table, the SYSTEM and PUBLIC principals and customer scopes (below audit/)."""
