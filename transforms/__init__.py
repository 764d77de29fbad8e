"""The rewrite rules, one module per rule code (IPF001-IPF008)."""
