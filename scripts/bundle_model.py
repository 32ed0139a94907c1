"""Copy a trained model (NAME.safetensors + NAME.json) into src/siamnet/models/bundled/.

    python scripts/bundle_model.py runs/omniglot/model omniglot [--terms TEXT]

The weights and the measured card are copied unchanged; ``--terms`` fills the card's terms
field when the training command did not record them.
"""

import argparse
import json
import shutil
from pathlib import Path

from siamnet.models import BUNDLED, load_model, model_paths


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("source")
    ap.add_argument("name")
    ap.add_argument("--terms")
    a = ap.parse_args()
    load_model(a.source)  # refuse anything that does not load
    weights, card = model_paths(a.source)
    BUNDLED.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(weights, BUNDLED / f"{a.name}.safetensors")
    data = json.loads(card.read_text())
    data["name"] = a.name
    if a.terms and not data.get("terms"):
        data["terms"] = a.terms
    (BUNDLED / f"{a.name}.json").write_text(json.dumps(data, indent=2) + "\n")
    print(f"bundled {a.name}: {BUNDLED / a.name}.safetensors (+ .json)")


if __name__ == "__main__":
    main()
