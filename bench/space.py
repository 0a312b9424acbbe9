"""Value-space map speed: a fresh process drawing the UMAP of ~20,000 value vectors.

    $ .venv/bin/python bench/space.py              # 20,000 vectors
    $ .venv/bin/python bench/space.py --n 5000

The vectors are the shipped dataset's annotated value vectors (resampled to --n with the map's
jitter while the dataset is smaller than that). Each timing is a fresh Python process, imports
included, with an empty map cache:
- plain umap-learn (fixed random_state), the baseline;
- valuelab's `space.fit_map` with an empty numba cache (a machine's very first run: goal <= 60 s);
- `space.fit_map` again, numba's compiled code now cached on disk (the issue's goal: <= 15 s);
- `space.fit_map` a third time, reusing the cached fit.
The numba cache of the valuelab runs lives in a temporary NUMBA_CACHE_DIR, so "cold" is cold.
What valuelab changes: umap-learn's jitted functions get numba's disk cache (`space.import_umap`),
and the neighbour graph is exact (scikit-learn, `space.ExactIndex`) instead of pynndescent's,
whose core functions numba cannot cache.
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
        maps, numba_cache = Path(tmp) / "maps1", Path(tmp) / "numba"
        env = {**os.environ, "VALUELAB_CACHE": str(maps), "NUMBA_CACHE_DIR": str(numba_cache)}
        plain = fresh(PLAIN, path)
        cold = fresh(VALUELAB, path, env)
        warm = fresh(VALUELAB, path, {**env, "VALUELAB_CACHE": str(Path(tmp) / "maps2")})
        cached = fresh(VALUELAB, path, env)
    note = " (the dataset resampled with jitter)" if resampled else ""
    print(f"{args.n} value vectors{note}, fresh processes")
    print(f"plain umap-learn fit:                       {plain:6.1f} s")
    print(f"valuelab fit_map, numba cache empty:        {cold:6.1f} s   (goal <= 60 s)")
    print(f"valuelab fit_map, numba code cached:        {warm:6.1f} s   (goal <= 15 s)")
    print(f"valuelab fit_map, fitted map cached:        {cached:6.1f} s")
    print(f"fit in a fresh process vs plain umap-learn: {plain / warm:.1f}x faster")


if __name__ == "__main__":
    main()
