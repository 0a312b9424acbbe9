"""The data card's numbers, as markdown, from the shipped data (paste into data/README.md).

    $ python data/card_numbers.py
"""
import pandas as pd

from valuelab.annotate import FULCRA_RATES, agreement, krippendorff_alpha, label_rates
from valuelab.data import dialogue_summary, load_annotations, load_dataset, load_dialogues


def pct(x) -> str:
    return "–" if pd.isna(x) else f"{100 * x:.1f}%"


def main():
    dialogues, primary, second = load_dialogues(), load_annotations("primary"), load_annotations("second")
    summary = dialogue_summary(dialogues)
    print(f"dialogues: {len(dialogues):,}; annotated (primary): {len(primary):,}; twice: {len(second):,}\n")
    for name in ("kind", "temperature", "persona"):
        print(summary[name].to_markdown(), "\n")
    print(summary["length"].to_markdown(), "\n")
    print(summary["finish"].to_markdown(), "\n")
    print("refusal share (all):", pct(summary["kind"].eval("dialogues * refusal_share").sum()
                                      / summary["kind"]["dialogues"].sum()), "\n")
    ours = label_rates(primary)
    rows = [f"| {v} | {pct(ours.loc[v].iloc[0])} | {pct(ours.loc[v].iloc[1])} | "
            f"{pct(FULCRA_RATES.loc[v].iloc[0])} | {pct(FULCRA_RATES.loc[v].iloc[1])} |" for v in ours.index]
    print("| value | valuelab +1 | valuelab −1 | FULCRA +1 | FULCRA −1 |\n|---|---|---|---|---|", *rows, sep="\n")
    nothing = (primary[list(ours.index)] == 0).all(axis=1).mean()
    print(f"\nno value at all: {pct(nothing)}\n")
    agree = agreement(primary, second)
    print(agree.round(3).to_markdown(), "\n")
    print(f"mean kappa {agree['kappa'].mean():.3f}; Krippendorff alpha {krippendorff_alpha(primary, second):.3f}\n")
    print(load_dataset()["split"].value_counts().to_markdown())


if __name__ == "__main__":
    main()
