"""Record tests/pulumi/data/stack-output.dong-thap.json from the program (under mocks)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

from tests.pulumi.test_central_program import run_program, stack_config

TARGET = Path(__file__).parent / "data" / "stack-output.dong-thap.json"

if __name__ == "__main__":
    warnings.simplefilter("ignore", DeprecationWarning)
    run = run_program(stack_config("dong-thap"), "dong-thap")
    TARGET.write_text(json.dumps(run.outputs, indent=2, ensure_ascii=False) + "\n", "utf-8")
    print(f"wrote {TARGET}")
