"""Click commands, one module per family: `fix` (diagnose and repair a script), `static` (scan, migrate)."""
