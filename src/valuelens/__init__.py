"""valuelens."""
