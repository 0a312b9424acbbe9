"""Annotation batches: hand out unlabelled dialogues, and check a returned label file.

    $ python data/annotations/batches.py make --out /tmp/annot/batches --n 8 [--second]
    $ python data/annotations/batches.py check BATCH.jsonl LABELS.jsonl
    $ python data/annotations/batches.py store BATCH.jsonl LABELS.jsonl [--second]

`make` writes batch files (b0001, ...; s0001, ... with --second) of 100 dialogues (with --partial,
also a last smaller one for the tail)
({"id", "prompt", "response"}) that have no primary label yet and are in no batch already in
--out (with --second: dialogues with a primary label but no second one, for the independent
double annotation). Batch numbers continue after the highest in
data/annotations/ and --out. Dialogue ids are replaced in the batch by opaque ones (b0062-017) so
that annotators do not see the run (a persona name in an id could bias a label); the mapping sits
beside the batch in BATCH.ids.json, and `store` writes the checked labels under their real ids to
data/annotations/primary/ (or second/). `check` validates a label file against its batch with
valuelab.annotate.validate_annotation: every id exactly once, ten values in {-1, 0, +1}, known
value items whose sign matches their value's label. Annotators read every dialogue and decide
its labels (PROCESS.md); nothing here assigns labels.
"""
import argparse
import json
import sys
from pathlib import Path

from valuelab.annotate import validate_annotation
from valuelab.data import ANNOTATIONS, load_dialogues, read_jsonl, write_atomic, write_jsonl_atomic


def _ids(folder: Path) -> set:
    return {r["id"] for f in folder.glob("*.jsonl") for r in read_jsonl(f)} if folder.exists() else set()


def make(out: Path, n: int, second: bool, size: int = 100, seed: int = 0, partial: bool = False):
    out.mkdir(parents=True, exist_ok=True)
    primary, done_second = _ids(ANNOTATIONS / "primary"), _ids(ANNOTATIONS / "second")
    handed_out = {i for f in out.glob("*.ids.json") for i in json.loads(f.read_text()).values()}
    d = load_dialogues().sort_values("id")
    pool = d[d["id"].isin(primary) & ~d["id"].isin(done_second)] if second else d[~d["id"].isin(primary)]
    pool = pool[~pool["id"].isin(handed_out)].sample(frac=1, random_state=seed + len(handed_out))
    prefix = "s" if second else "b"  # second-annotation batches get their own series (s0001, ...)
    files = list(out.glob(f"{prefix}*.jsonl")) + list(ANNOTATIONS.glob(f"*/{prefix}*.jsonl"))
    numbers = [int(p.stem[1:]) for p in files]
    k = max(numbers, default=0)
    if pool.empty:
        print("nothing to hand out: every dialogue " + ("has a second label" if second else "is labelled"))
    for i in range(n):
        chunk = pool.iloc[i * size:(i + 1) * size]
        if len(chunk) == 0 or (len(chunk) < size and not partial):
            break
        k += 1
        name = f"{prefix}{k:04d}"
        opaque = [f"{name}-{j:03d}" for j in range(len(chunk))]
        write_jsonl_atomic(out / f"{name}.jsonl", [{"id": o, "prompt": r.prompt, "response": r.response}
                                                   for o, r in zip(opaque, chunk.itertuples())])
        write_atomic(out / f"{name}.ids.json", json.dumps(dict(zip(opaque, chunk["id"])), indent=0))
        print(out / f"{name}.jsonl")
    return 0


def store(batch: Path, labels: Path, second: bool) -> int:
    """Check, then save the labels under the dialogues' real ids in data/annotations/."""
    if check(batch, labels):
        return 1
    ids = json.loads(batch.with_suffix(".ids.json").read_text())
    rows = [{**r, "id": ids[r["id"]]} for r in read_jsonl(labels)]
    dest = ANNOTATIONS / ("second" if second else "primary") / batch.name
    write_jsonl_atomic(dest, rows)
    print(f"{len(rows)} labels stored in {dest}")
    return 0


def check(batch: Path, labels: Path) -> int:
    want = [r["id"] for r in read_jsonl(batch)]
    problems, seen = [], set()
    for n, line in enumerate(labels.read_text(encoding="utf-8").splitlines(), 1):
        try:
            rec = json.loads(line)
            validate_annotation(rec, rec.get("id"), strict_items=True)
        except (json.JSONDecodeError, ValueError) as e:
            problems.append(f"line {n}: {e}")
            continue
        if rec["id"] not in want or rec["id"] in seen:
            problems.append(f"line {n}: id {rec['id']!r} not in the batch, or labelled twice")
        seen.add(rec["id"])
    if missing := [i for i in want if i not in seen]:
        problems.append(f"{len(missing)} batch ids not labelled, e.g. {missing[:3]}")
    print(f"{len(seen)} labelled of {len(want)}; {len(problems)} problems", *problems[:30], sep="\n  ")
    return 1 if problems else 0


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("make")
    m.add_argument("--out", required=True, type=Path)
    m.add_argument("--n", type=int, default=8)
    m.add_argument("--second", action="store_true")
    m.add_argument("--partial", action="store_true", help="also hand out a last batch under 100 (the tail)")
    for name in ("check", "store"):
        c = sub.add_parser(name)
        c.add_argument("batch", type=Path)
        c.add_argument("labels", type=Path)
        c.add_argument("--second", action="store_true")
    a = p.parse_args()
    if a.cmd == "make":
        sys.exit(make(a.out, a.n, a.second, partial=a.partial))
    sys.exit(check(a.batch, a.labels) if a.cmd == "check" else store(a.batch, a.labels, a.second))
