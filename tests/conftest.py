"""The suite's layout mirrors the code (rules/, static/, runtime/, dynamic/, api/); the helper
modules beside this file serve every folder, so this folder goes on the import path."""

import sys
from pathlib import Path

HELPERS = str(Path(__file__).resolve().parent)
if HELPERS not in sys.path:
    sys.path.insert(0, HELPERS)
