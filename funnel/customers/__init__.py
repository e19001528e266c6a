"""The customer field specification, numbering, duplicates, reads, edits and stage moves."""
