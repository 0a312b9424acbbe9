"""Value-space map speed: a fresh process drawing the UMAP of ~20,000 value vectors.

    $ .venv/bin/python bench/space.py              # 20,000 vectors
    $ .venv/bin/python bench/space.py --n 5000

The vectors are the shipped dataset's annotated value vectors (resampled to --n with the map's
jitter while the dataset is smaller than that). Each timing is a fresh Python process, imports
included: plain umap-learn (fixed random_state), valuelab's `space.fit_map` on an empty map
cache, and `space.fit_map` again, which reuses the cached fit. numba's compiled code is cached by
umap-learn itself after the first run on a machine (the first run ever is slower).
"""
import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

PLAIN = "import numpy as np, umap, sys; umap.UMAP(random_state=0, n_jobs=1).fit(np.load(sys.argv[1]))"
VALUELAB = "import numpy as np, sys; from valuelab import space; space.fit_map(np.load(sys.argv[1]))"


def fresh(code, path, env=None):
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code, str(path)], check=True, capture_output=True, env=env)
    return time.perf_counter() - start


def main():
    import os

    from valuelab.data import load_dataset
    from valuelab.values import NAMES

    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=20000)
    args = p.parse_args()
    X = load_dataset()[list(NAMES)].to_numpy(float)
    rng = np.random.default_rng(0)
    resampled = len(X) < args.n
    X = X[rng.choice(len(X), args.n, replace=resampled)] + rng.normal(0, 0.05, (args.n, len(NAMES)))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "vectors.npy"
        np.save(path, X)
        env = {**os.environ, "VALUELAB_CACHE": tmp}
        plain = fresh(PLAIN, path)
        first = fresh(VALUELAB, path, env)
        cached = fresh(VALUELAB, path, env)
    note = " (the dataset resampled with jitter)" if resampled else ""
    print(f"{args.n} value vectors{note}, fresh processes")
    print(f"plain umap-learn fit:            {plain:6.1f} s")
    print(f"valuelab fit_map, first fit:     {first:6.1f} s")
    print(f"valuelab fit_map, cached map:    {cached:6.1f} s")
    print(f"speed-up of a rerun: {plain / cached:.1f}x")


if __name__ == "__main__":
    main()
