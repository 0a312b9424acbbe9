"""Agreement of valuelab's annotation process with FULCRA's own labels.

    $ python data/annotations/calibrate.py ../shared/fulcra/trustworthy_dev.jsonl LABELS.jsonl [...]

The FULCRA file is third-party data: it is read from where it lies and never copied into the
repository; our labels for its dialogues stay outside the repository too (they are derived from it
line by line). Dialogue ids are ``fulcra-NNNN`` (0-based line number). Prints, per value, Cohen's
kappa, percent agreement, 3-class macro-F1 (FULCRA as reference), label rates of both, and the
+1/0/-1 confusion for every value, as Markdown.
"""
import sys

import pandas as pd
from sklearn.metrics import f1_score

from valuelab.annotate import agreement, confusion, label_rates, to_frame
from valuelab.data import read_fulcra, read_jsonl
from valuelab.values import NAMES


def main(fulcra_path, *label_files):
    ref = read_fulcra(fulcra_path)
    ref["id"] = [f"fulcra-{i:04d}" for i in range(len(ref))]
    ours = to_frame([r for f in label_files for r in read_jsonl(f)])
    ref = ref[ref["id"].isin(ours["id"])]
    m = ref[["id", *NAMES]].merge(ours[["id", *NAMES]], on="id", suffixes=("_fulcra", "_ours"))
    table = agreement(ref, ours)
    table["macro_f1"] = [f1_score(m[f"{v}_fulcra"], m[f"{v}_ours"], labels=[-1, 0, 1], average="macro",
                                  zero_division=0) for v in NAMES]
    ours_here = ours[ours["id"].isin(ref["id"])]
    rates = label_rates(ref).add_suffix(" FULCRA").join(label_rates(ours_here).add_suffix(" ours"))
    out = table.join(rates).round(3)
    print(f"# Calibration against FULCRA labels: {len(m)} dialogues\n")
    print(out.to_markdown() if hasattr(out, "to_markdown") and _has_tabulate() else out.to_string())
    print(f"\nmean kappa {table['kappa'].mean():.3f}, mean 3-class macro-F1 {table['macro_f1'].mean():.3f}\n")
    for v in NAMES:
        print(f"{v} (rows FULCRA, columns ours):\n{confusion(ref, ours, v).to_string()}\n")


def _has_tabulate():
    try:
        import tabulate  # noqa: F401
        return True
    except ImportError:
        return False


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    pd.set_option("display.width", 200)
    main(*sys.argv[1:])
