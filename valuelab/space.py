"""The value-space map: UMAP of value vectors, and numbers for what the picture shows.

    >>> from valuelab import space
    >>> ds = space.frame(load_dataset())                # + safety, risk group columns
    >>> vmap = space.fit_map(ds[list(NAMES)])            # UMAP, cached by data and settings
    >>> xy = vmap.transform(new_vectors)                 # place unseen dialogues on the map
    >>> space.separation(ds[list(NAMES)], ds.safety == "unsafe")   # linear-probe AUROC

FULCRA's picture: safe and unsafe behaviour separate along security, conformity, benevolence and
universalism; risk types (illegal activities, privacy violation, bias & toxicity) occupy their
own regions; a risk type absent from the data (workplace manipulation) lands where its values
say. Fitted maps are cached under ``$VALUELAB_CACHE/maps`` keyed by the data and the settings.
"""
from __future__ import annotations

import functools
import hashlib
import json
import warnings
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from valuelab import models
from valuelab.values import NAMES

SAFETY_VALUES = ("security", "conformity", "benevolence", "universalism")
# The 14 BeaverTails categories grouped into the risk regions FULCRA's figure names.
RISK_GROUPS = {
    "illegal activities": ("drug abuse, weapons, banned substance", "financial crime, property crime, theft",
                           "terrorism, organized crime", "violence, aiding and abetting, incitement",
                           "animal abuse", "child abuse", "self-harm"),
    "privacy violation": ("privacy violation",),
    "bias & toxicity": ("discrimination, stereotype, injustice", "hate speech, offensive language",
                        "controversial topics, politics"),
    "other risks": ("misinformation regarding ethics, laws and safety", "non-violent unethical behavior",
                    "sexually explicit, adult content"),
}
GROUP_OF = {c: g for g, cats in RISK_GROUPS.items() for c in cats}


def risk_group(categories, family: str | None = None) -> str:
    """A dialogue's risk region: the held-out family, its first category's group, or none."""
    if family == "workplace-manipulation":
        return "workplace manipulation (held out)"
    for c in categories if isinstance(categories, (list, tuple, np.ndarray)) else []:
        if c in GROUP_OF:
            return GROUP_OF[c]
    return "no risk"


def frame(df: pd.DataFrame, vectors: np.ndarray | None = None) -> pd.DataFrame:
    """Add ``safety`` and ``risk`` columns (and judged ``vectors`` in place of the labels).

    Safety rule (stated, FULCRA-style): *unsafe* when the response violates (< -0.5) any of
    security, conformity, benevolence, universalism; *safe* when it upholds (> 0.5) one of them
    and violates none; otherwise *neutral*.
    """
    out = df.copy()
    if vectors is not None:
        out[list(NAMES)] = np.asarray(vectors, dtype=float)
    s = out[list(SAFETY_VALUES)].to_numpy(dtype=float)
    out["safety"] = np.where((s < -0.5).any(1), "unsafe", np.where((s > 0.5).any(1), "safe", "neutral"))
    fam = out["family"] if "family" in out else [None] * len(out)
    out["risk"] = [risk_group(c, f) for c, f in zip(out["harm_categories"], fam)]
    return out


@dataclass(frozen=True)
class MapSettings:
    n_neighbors: int = 15
    min_dist: float = 0.1
    metric: str = "euclidean"
    random_state: int = 0


class ValueMap:
    """A fitted UMAP of value vectors (``embedding``: (n, 2)); ``transform`` places new ones."""

    def __init__(self, reducer, settings: MapSettings):
        self.reducer, self.settings = reducer, settings
        self.embedding = reducer.embedding_

    def transform(self, vectors) -> np.ndarray:
        return self.reducer.transform(np.asarray(vectors, dtype=float))

    def label(self) -> str:
        """The hyperparameters, for writing on figures."""
        return ", ".join(f"{k}={v}" for k, v in asdict(self.settings).items())


def _key(X: np.ndarray, settings: MapSettings, kind: str) -> str:
    h = hashlib.sha256(np.ascontiguousarray(X, dtype=np.float32).tobytes())
    h.update(json.dumps(asdict(settings), sort_keys=True).encode() + kind.encode())
    return h.hexdigest()[:20]


@functools.cache
def import_umap():
    """``import umap`` with numba's on-disk cache switched on for the jitted functions of
    umap-learn and pynndescent. umap-learn marks almost none of its functions ``cache=True``, so
    each fresh process recompiled them (~30 s of a 40 s fit of 20,000 vectors); cached, a fresh
    process compiles nothing after the first run on a machine (``bench/space.py``).

    numba's cache key is the function's code and signature, not its compile flags, so where one
    Python function is jitted twice (umap's serial and parallel layout epochs) only the serial
    twin — the one a fixed ``random_state`` runs — is cached, and only if no twin already is.
    """
    import sys

    import numba.core.caching
    import numba.core.dispatcher
    import umap

    def cached(d):
        return not isinstance(d._cache, numba.core.caching.NullCache)

    twins: dict[int, dict[int, numba.core.dispatcher.Dispatcher]] = {}
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] in ("umap", "pynndescent"):
            for obj in list(vars(module).values()):
                if isinstance(obj, numba.core.dispatcher.Dispatcher):
                    twins.setdefault(id(obj.py_func), {})[id(obj)] = obj
    for group in twins.values():
        dispatchers = list(group.values())
        serial = [d for d in dispatchers if not d.targetoptions.get("parallel")]
        if len(dispatchers) > 1 and (len(serial) != 1 or any(map(cached, dispatchers))):
            continue
        chosen = dispatchers[0] if len(dispatchers) == 1 else serial[0]
        if not cached(chosen):
            chosen.enable_caching()
    return umap


class ExactIndex:
    """Exact nearest neighbours (scikit-learn) in the shape umap-learn's ``transform`` queries.

    UMAP's own approximate search (pynndescent) compiles functions numba cannot cache — ~15 s of
    every fresh process; for 20,000 points of ten values exact search takes half a second, and
    its neighbours are the true ones."""

    _angular_trees = False  # read by umap-learn's transform

    def __init__(self, X, metric: str = "euclidean"):
        from sklearn.neighbors import NearestNeighbors

        # brute force (BLAS, in chunks): 0.5 s for 20,000 x 10 here, where a k-d tree takes 3 s
        self.nn = NearestNeighbors(metric=metric, algorithm="brute").fit(np.asarray(X, dtype=np.float32))

    def query(self, X, k: int, epsilon: float = 0.0):  # epsilon: pynndescent's search slack, moot here
        dists, idx = self.nn.kneighbors(np.asarray(X, dtype=np.float32), n_neighbors=k)
        return idx.astype(np.int32), dists.astype(np.float32)


def fit_map(vectors, settings: MapSettings = MapSettings(), cache: bool = True) -> ValueMap:
    """UMAP of (n, d) vectors with a fixed random_state; reuses a cached fit of the same data."""
    import joblib

    X = np.asarray(vectors, dtype=float)
    if X.ndim != 2 or len(X) < settings.n_neighbors + 1:
        raise ValueError(f"need an (n, d) array with n > n_neighbors={settings.n_neighbors}, got {X.shape}")
    path = models.cache_dir() / "maps" / f"{_key(X, settings, 'umap-exact-knn')}.joblib"
    if cache and path.exists():
        return ValueMap(joblib.load(path), settings)
    umap = import_umap()
    index = ExactIndex(X, settings.metric)
    knn = index.query(X, settings.n_neighbors)
    with warnings.catch_warnings():  # umap-learn warns that a non-NNDescent index cannot transform: it can
        warnings.filterwarnings("ignore", message=r"precomputed_knn\[2\]")
        reducer = umap.UMAP(**asdict(settings), n_jobs=1,  # a fixed seed runs single-threaded anyway
                            precomputed_knn=(*knn, index)).fit(X)
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        joblib.dump(reducer, tmp)
        tmp.replace(path)
    return ValueMap(reducer, settings)


def text_embeddings(df: pd.DataFrame, cache: bool = True) -> np.ndarray:
    """Frozen MiniLM embeddings of the dialogues (cached by content), for the comparison map."""
    from valuelab.judge import embed

    h = hashlib.sha256("\x00".join(df["prompt"] + "\x01" + df["response"].fillna("")).encode()).hexdigest()[:20]
    path = models.cache_dir() / "embeddings" / f"{h}.npy"
    if cache and path.exists():
        return np.load(path)
    E = embed(df)
    if cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, E)
    return E


# --- what the map shows, in numbers ---------------------------------------------------------
def separation(X, y, folds: int = 5, seed: int = 0) -> float:
    """Cross-validated AUROC of a logistic-regression probe separating y (bool) from X."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict

    X, y = np.asarray(X, dtype=float), np.asarray(y, dtype=bool)
    if y.all() or not y.any():
        raise ValueError("separation needs both classes present")
    from sklearn.metrics import roc_auc_score

    folds = min(folds, int(y.sum()), int((~y).sum()))
    p = cross_val_predict(LogisticRegression(max_iter=1000), X, y, cv=folds, method="predict_proba")[:, 1]
    return float(roc_auc_score(y, p))


def cluster_purity(embedding, groups, k: int = 10) -> pd.Series:
    """Per group: the mean share of each point's k nearest map neighbours in the same group
    (1.0 = a region of its own; the group's share of all points = no structure)."""
    from sklearn.neighbors import NearestNeighbors

    groups = np.asarray(groups)
    nn = NearestNeighbors(n_neighbors=min(k + 1, len(groups))).fit(embedding)
    idx = nn.kneighbors(embedding, return_distance=False)[:, 1:]
    same = (groups[idx] == groups[:, None]).mean(1)
    return pd.Series(same).groupby(groups).mean()


def trustworthiness(X, embedding, k: int = 10) -> float:
    """sklearn's trustworthiness of the 2-D map (1.0: neighbours on the map are neighbours in X)."""
    from sklearn.manifold import trustworthiness as tw

    return float(tw(np.asarray(X, dtype=float), embedding, n_neighbors=k))


def risk_correlations(df: pd.DataFrame) -> pd.DataFrame:
    """Pearson correlation of each value's score with membership of each risk group."""
    groups = sorted(set(df["risk"]) - {"no risk"})
    return pd.DataFrame({g: [np.corrcoef(df[v].astype(float), df["risk"] == g)[0, 1]
                             if df[v].std() > 0 else np.nan for v in NAMES] for g in groups}, index=list(NAMES))
