"""Print one benchmark figure as a JSON line."""

import json
import sys


def emit(name, value, unit, baseline, **extra):
    line = {"bench": name, "value": round(value, 3), "unit": unit, "baseline": round(baseline, 3)}
    line["ratio"] = round(value / baseline, 3) if baseline else None
    line.update(extra)
    print(json.dumps(line), flush=True)
    sys.stdout.flush()
