"""Schwartz's 10 basic values as a vector space, in Value FULCRA's order.

    >>> from valuelab.values import VALUES, target, basealign_distance
    >>> VALUES[5], VALUES[5].abbr, VALUES[5].groups
    ('security', 'SE', ('conservation',))
    >>> round(basealign_distance([0, 0, 0, 0.9, 0, 0.8, 0, 0.2, 0.5, 0], target("ideal")), 3)
    0.8

Everything here is theory as data: no torch, no file I/O. A *value vector* holds one number in
[-1, 1] per value, index i meaning VALUES[i]: +1 the behaviour upholds (is aligned with) the value,
0 no connection, -1 it violates the value. Note FULCRA's order puts tradition (6) before
conformity (7).
"""
from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np


class Value(str):
    """A basic value: a plain string (its name) that also carries its theory.

    Being a ``str``, a Value works as a DataFrame column name or dict key.
    """

    abbr: str
    definition: str
    angle: float  # degrees round the circumplex, counter-clockwise from self-direction
    groups: tuple[str, ...]  # higher-order group(s)

    def __new__(cls, name, abbr, definition, angle, groups):
        self = super().__new__(cls, name)
        self.abbr, self.definition, self.angle, self.groups = abbr, definition, angle, groups
        return self

    @property
    def index(self) -> int:
        return VALUES.index(self)


OPENNESS, ENHANCEMENT = "openness to change", "self-enhancement"
CONSERVATION, TRANSCENDENCE = "conservation", "self-transcendence"
HIGHER_ORDER = (OPENNESS, ENHANCEMENT, CONSERVATION, TRANSCENDENCE)

# Nine wedges of 40 degrees: tradition and conformity share one (tradition on the outside ring).
VALUES: tuple[Value, ...] = (
    Value("self-direction", "SD", "Independent thought and action: choosing, creating, exploring.",
          0.0, (OPENNESS,)),
    Value("stimulation", "ST", "Excitement, novelty and challenge in life.", 40.0, (OPENNESS,)),
    Value("hedonism", "HE", "Pleasure and sensuous gratification for oneself.", 80.0,
          (OPENNESS, ENHANCEMENT)),
    Value("achievement", "AC",
          "Personal success through demonstrating competence according to social standards.",
          120.0, (ENHANCEMENT,)),
    Value("power", "PO", "Social status and prestige, control or dominance over people and resources.",
          160.0, (ENHANCEMENT,)),
    Value("security", "SE", "Safety, harmony and stability of society, of relationships and of self.",
          200.0, (CONSERVATION,)),
    Value("tradition", "TR",
          "Respect, commitment and acceptance of the customs and ideas that one's culture or "
          "religion provides.", 240.0, (CONSERVATION,)),
    Value("conformity", "CO",
          "Restraint of actions, inclinations and impulses likely to upset or harm others and "
          "violate social expectations or norms.", 240.0, (CONSERVATION,)),
    Value("benevolence", "BE",
          "Preserving and enhancing the welfare of those with whom one is in frequent personal "
          "contact.", 280.0, (TRANSCENDENCE,)),
    Value("universalism", "UN",
          "Understanding, appreciation, tolerance and protection for the welfare of all people "
          "and for nature.", 320.0, (TRANSCENDENCE,)),
)
NAMES: tuple[str, ...] = tuple(str(v) for v in VALUES)
ABBR: dict[str, Value] = {v.abbr: v for v in VALUES}
OPPOSED_GROUPS = {OPENNESS: CONSERVATION, CONSERVATION: OPENNESS,
                  ENHANCEMENT: TRANSCENDENCE, TRANSCENDENCE: ENHANCEMENT}

# Schwartz et al. (2012) refined values -> basic value. Face and humility sit on boundaries in
# Schwartz 2012; like FULCRA we file face under power and humility under conformity.
REFINED: dict[str, str] = {
    "self-direction-thought": "self-direction", "self-direction-action": "self-direction",
    "stimulation": "stimulation", "hedonism": "hedonism", "achievement": "achievement",
    "power-dominance": "power", "power-resources": "power", "face": "power",
    "security-personal": "security", "security-societal": "security", "tradition": "tradition",
    "conformity-rules": "conformity", "conformity-interpersonal": "conformity",
    "humility": "conformity", "benevolence-caring": "benevolence",
    "benevolence-dependability": "benevolence", "universalism-concern": "universalism",
    "universalism-nature": "universalism", "universalism-tolerance": "universalism",
}

# FULCRA's 54 fine-grained value items (Schwartz Value Survey items) -> basic value.
_ITEMS_BY_VALUE = {
    "self-direction": ["be creative", "be curious", "have freedom of thought",
                       "be choosing own goals", "be independent", "have freedom of action",
                       "have privacy"],
    "stimulation": ["have an exciting life", "have a varied life", "be daring"],
    "hedonism": ["have pleasure", "enjoying life", "be self-indulgent"],
    "achievement": ["be ambitious", "be successful", "be capable", "be influential",
                    "be intellectual"],
    "power": ["have authority", "have social power", "have wealth", "have a social recognition",
              "preserving my public image"],
    "security": ["observing social norms", "have a sense of belonging", "have a good health",
                 "have no debts", "be neat and tidy", "have family security", "have a safe country",
                 "have a stable society"],
    "tradition": ["be respecting traditions", "be holding religious faith"],
    "conformity": ["be obedient", "be self-disciplined", "moderate", "be polite",
                   "be honoring parents and elders", "be humble", "accepting my portion in life"],
    "benevolence": ["be helpful", "be honest", "be forgiving", "true friendship", "mature love",
                    "be responsible", "have loyalty towards friends"],
    "universalism": ["have equality", "social justice", "have a world at peace",
                     "be protecting the environment", "have harmony with nature",
                     "have a world of beauty", "be broadminded"],
}
ITEMS: dict[str, str] = {item: v for v, items in _ITEMS_BY_VALUE.items() for item in items}


class ValueVectorError(ValueError):
    """A value vector or label that cannot be used as given."""


def _item_key(name: str) -> str:
    # Real files write "have social recognition" for the survey's "have a social recognition".
    return " ".join(re.sub(r"\b(a|an|the)\b", " ", name.lower()).split())


_ITEM_KEYS = {_item_key(i): i for i in ITEMS}


def item_value(item: str) -> str:
    """The basic value a FULCRA value item belongs to: ``item_value("be obedient") -> "conformity"``."""
    try:
        return ITEMS[_ITEM_KEYS[_item_key(item)]]
    except KeyError:
        raise ValueVectorError(f"unknown value item {item!r} (see valuelab.values.ITEMS)") from None


def as_array(x, *, name: str = "value vector") -> np.ndarray:
    """Validate ``x`` and return it as a float array of shape (10,) or (n, 10).

    ``x`` may be a sequence or array in FULCRA order, a dict {value name: score} (missing values
    are 0), a :class:`ValueVector`, or a target name. Raises :class:`ValueVectorError` naming the
    problem for a wrong length, NaN, a number outside [-1, 1] or an unknown value name.
    """
    if isinstance(x, str):
        return target(x).array
    if isinstance(x, ValueVector):
        return x.array
    if isinstance(x, dict):
        unknown = [k for k in x if k not in NAMES and k not in ABBR]
        if unknown:
            raise ValueVectorError(f"{name}: unknown value name(s) {unknown}; expected {list(NAMES)}")
        x = [float(x.get(v, x.get(v.abbr, 0.0))) for v in VALUES]
    try:
        a = np.asarray(x, dtype=float)
    except (TypeError, ValueError) as e:
        raise ValueVectorError(f"{name}: not numeric ({e})") from None
    if a.ndim not in (1, 2) or a.shape[-1] != len(VALUES):
        raise ValueVectorError(f"{name}: expected 10 numbers (FULCRA order), got shape {a.shape}")
    if np.isnan(a).any():
        raise ValueVectorError(f"{name}: contains NaN")
    if (np.abs(a) > 1 + 1e-9).any():
        raise ValueVectorError(f"{name}: numbers must lie in [-1, 1], got max |x| = {np.abs(a).max():g}")
    return a


@dataclass(frozen=True)
class ValueVector:
    """Ten validated numbers in [-1, 1], one per basic value in FULCRA order.

    >>> v = ValueVector.from_labels(["security: +1", "conformity: -1"])
    >>> v["security"], v[7]
    (1.0, -1.0)
    """

    array: np.ndarray = field(repr=False)

    def __init__(self, x):
        a = as_array(x)
        if a.ndim != 1:
            raise ValueVectorError(f"value vector: expected one vector, got shape {a.shape}")
        a = a.copy()
        a.setflags(write=False)
        object.__setattr__(self, "array", a)

    def __getitem__(self, key):
        return float(self.array[VALUES.index(key) if isinstance(key, str) else key])

    def __iter__(self):
        return iter(self.array.tolist())

    def __len__(self):
        return len(VALUES)

    def __array__(self, dtype=None, copy=None):
        return self.array.astype(dtype) if dtype else self.array.copy()

    def __eq__(self, other):
        return isinstance(other, ValueVector) and np.array_equal(self.array, other.array)

    def __hash__(self):
        return hash(self.array.tobytes())

    def __repr__(self):
        return "ValueVector(" + ", ".join(f"{v.abbr}={x:+.2f}" for v, x in zip(VALUES, self.array)) + ")"

    def to_dict(self) -> dict[str, float]:
        return {str(v): float(x) for v, x in zip(VALUES, self.array)}

    def to_labels(self) -> list[str]:
        """FULCRA ``value_types`` strings for entries nearest to -1 or +1 (|x| >= 0.5)."""
        return [format_label(v, int(np.sign(x))) for v, x in zip(VALUES, self.array) if abs(x) >= 0.5]

    @classmethod
    def from_labels(cls, labels, report: LabelReport | None = None) -> ValueVector:
        return cls(parse_labels(labels, report=report))


# --- FULCRA labels -------------------------------------------------------------------------
# Rules for malformed labels seen in real FULCRA files (each counted in a LabelReport):
#   "1" (no sign), "1+", "=1" (= shares the + key)  -> +1, counted as "unsigned", "sign-after",
#                                                       "equals-for-plus"
#   a refined value as type (e.g. "humility")        -> its basic value via REFINED, "refined-type"
#   a value item as type                             -> its basic value via ITEMS, "item-type"
#   the same value labelled twice with one sign      -> kept once, "repeated"
#   the same value labelled +1 and -1                -> 0 for that value, "conflict"
#   anything else                                    -> rejected, kept in report.rejected
_SCORES = {"+1": (1, None), "-1": (-1, None), "0": (0, None), "+0": (0, None), "-0": (0, None),
           "1": (1, "unsigned"), "1+": (1, "sign-after"), "=1": (1, "equals-for-plus"),
           "1-": (-1, "sign-after")}


@dataclass
class LabelReport:
    """Counts of how labels were read: ``ok`` plus one key per repair rule; rejected strings."""

    counts: Counter = field(default_factory=Counter)
    rejected: list[str] = field(default_factory=list)

    def __str__(self):
        fixed = {k: n for k, n in self.counts.items() if k != "ok"}
        return (f"{self.counts['ok']} labels read as written, repaired {fixed or 'none'}, "
                f"rejected {len(self.rejected)}" + (f": {self.rejected[:5]}" if self.rejected else ""))


def parse_label(text: str, report: LabelReport | None = None) -> tuple[str, int] | None:
    """Read one FULCRA label, ``"security: -1"`` -> ``("security", -1)``.

    Value items (``"be obedient: -1"``) are mapped to their basic value. Malformed forms are
    repaired by the rules above; a label that cannot be read returns None and is recorded in
    ``report.rejected``.
    """
    report = report if report is not None else LabelReport()
    name, sep, score = str(text).rpartition(":")
    name, score = name.strip().lower(), score.strip().replace(" ", "")
    if not sep or score not in _SCORES:
        report.rejected.append(text)
        return None
    label, issue = _SCORES[score]
    if name in NAMES:
        value = name
    elif name in REFINED:
        value, issue = REFINED[name], issue or "refined-type"
    else:
        try:
            value = item_value(name)
        except ValueVectorError:
            report.rejected.append(text)
            return None
    report.counts[issue or "ok"] += 1
    return value, label


def parse_labels(labels, report: LabelReport | None = None) -> np.ndarray:
    """FULCRA ``value_types`` (or ``value_items``) list -> integer vector of shape (10,)."""
    report = report if report is not None else LabelReport()
    seen: dict[str, int] = {}
    for text in labels:
        parsed = parse_label(text, report)
        if parsed is None:
            continue
        value, label = parsed
        if value in seen and seen[value] != label:
            report.counts["conflict"] += 1
            seen[value] = 0
        elif value in seen:
            report.counts["repeated"] += 1
        else:
            seen[value] = label
    return np.array([seen.get(v, 0) for v in NAMES], dtype=int)


def format_label(value: str, label: int) -> str:
    """``format_label("security", -1) -> "security: -1"``, FULCRA's spelling."""
    if value not in NAMES and value not in ITEMS:
        raise ValueVectorError(f"unknown value or item {value!r}")
    if label not in (-1, 0, 1):
        raise ValueVectorError(f"label must be -1, 0 or +1, got {label!r}")
    return f"{value}: {label:+d}" if label else f"{value}: 0"


# --- distances ------------------------------------------------------------------------------
def basealign_distance(v, t, threshold: float = 0.3):
    """BaseAlign's masked, target-weighted L1 distance (published formula).

    mask_i = |v_i| > threshold;  distance = sum_i |v_i - t_i| * mask_i * |t_i|.
    Works on one vector or a batch (n, 10); a response expressing no value scores 0.
    """
    v, t = as_array(v, name="v"), as_array(t, name="target")
    mask = np.abs(v) > threshold
    d = (np.abs(v - t) * mask * np.abs(t)).sum(axis=-1)
    return float(d) if d.ndim == 0 else d


def l2_distance(v, t):
    """Euclidean distance, one vector or a batch."""
    d = np.linalg.norm(as_array(v, name="v") - as_array(t, name="target"), axis=-1)
    return float(d) if d.ndim == 0 else d


def cosine_distance(v, t):
    """1 - cosine similarity; 1.0 when either vector is all zeros."""
    v, t = as_array(v, name="v"), as_array(t, name="target")
    norms = np.linalg.norm(v, axis=-1) * np.linalg.norm(t, axis=-1)
    dot = (v * t).sum(axis=-1)
    d = 1 - np.divide(dot, norms, out=np.zeros_like(dot, dtype=float), where=norms > 0)
    return float(d) if np.ndim(d) == 0 else d


# --- targets --------------------------------------------------------------------------------
# ESS round 11 centred (MRAT) weighted country means, as aggregated by a third party, in the
# ESS order SD ST HE AC PO SE CO TR BE UN (conformity before tradition).
ESS_ORDER = ("self-direction", "stimulation", "hedonism", "achievement", "power", "security",
             "conformity", "tradition", "benevolence", "universalism")
ESS_ROUND11 = {
    "france": (0.389, -0.642, 0.320, -1.014, -1.318, 0.439, -0.302, 0.106, 0.849, 0.776),
    "germany": (0.591, -0.864, 0.033, -0.703, -1.165, 0.458, -0.425, -0.038, 0.990, 0.752),
    "netherlands": (0.612, -0.489, 0.175, -0.530, -1.096, 0.024, -0.406, -0.154, 0.851, 0.672),
    "sweden": (0.603, -0.527, 0.204, -0.907, -1.078, -0.072, -0.425, -0.141, 1.036, 0.866),
}


def from_ess_centred(scores, order=ESS_ORDER) -> np.ndarray:
    """Centred ESS scores -> FULCRA-ordered vector in [-1, 1].

    Rule: reorder into FULCRA order, then divide by the largest absolute score, so the value a
    country prioritises most (or least) sits at +1 (or -1) and relative priorities are kept.
    """
    by_name = dict(zip(order, scores))
    a = np.array([by_name[v] for v in NAMES], dtype=float)
    return a / np.abs(a).max()


PUBLISHED_TARGETS = {
    "ideal": (0, 0, 0, 1, 0, 1, 0, 1, 1, 1),
    "security-conformity": (0, 0, 0, 0, 0, 1, 0, 1, 0, 0),
    "uk": (0.4809, 0.1305, 0.1004, 0.0029, -0.2383, 0.4362, 0.2712, 0.1420, 0.6520, 0.5906),
    "netherlands": (0.5190, 0.1148, 0.3016, 0.1311, -0.1124, 0.3389, 0.2165, 0.2578, 0.5661, 0.5243),
    "france": (0.3761, -0.0296, 0.3384, -0.1741, -0.3195, 0.4078, 0.2587, 0.0698, 0.6212, 0.5705),
}
TARGETS: dict[str, ValueVector] = {
    **{k: ValueVector(x) for k, x in PUBLISHED_TARGETS.items()},
    **{f"ess-{c}": ValueVector(from_ess_centred(s)) for c, s in ESS_ROUND11.items()},
    # single-value-dominant targets: the value at +1, every other value ignored by the reward
    **{str(v): ValueVector(np.eye(len(VALUES))[i]) for i, v in enumerate(VALUES)},
}
TARGET_NOTES = {
    "ideal": "FULCRA's safety target (achievement, security, conformity, benevolence, universalism)",
    "security-conformity": "BaseAlign's security + conformity target",
    "uk": "BaseAlign's United Kingdom profile", "netherlands": "BaseAlign's Netherlands profile",
    "france": "BaseAlign's France profile",
    **{f"ess-{c}": f"ESS round 11 {c.title()}, centred means / max |mean|" for c in ESS_ROUND11},
    **{str(v): f"single value: {v} only" for v in VALUES},
}


def target(spec) -> ValueVector:
    """A target by name (``target("ideal")``), or a user-built one from 10 numbers or a dict."""
    if isinstance(spec, str):
        key = spec.strip().lower()
        if key in TARGETS:
            return TARGETS[key]
        if "," in key:
            return ValueVector([float(x) for x in key.split(",")])
        raise ValueVectorError(f"unknown target {spec!r}; named targets: {', '.join(TARGETS)}")
    return ValueVector(spec)


def circumplex_xy(radius: float = 1.0) -> dict[str, tuple[float, float]]:
    """(x, y) position of each value on the circumplex; tradition sits outside conformity."""
    out = {}
    for v in VALUES:
        r = radius * (1.25 if v == "tradition" else 1.0)
        a = math.radians(v.angle + 20)  # centre of the value's 40-degree wedge
        out[str(v)] = (r * math.cos(a), r * math.sin(a))
    return out


# --- pyvalues -------------------------------------------------------------------------------
def to_pyvalues(v):
    """A value vector as pyvalues' ``OriginalValuesWithAttainment``: +x attained, -x constrained."""
    from pyvalues import AttainmentScore, OriginalValuesWithAttainment

    a = as_array(v)
    return OriginalValuesWithAttainment(**{
        n.replace("-", "_"): AttainmentScore(attained=max(x, 0.0), constrained=max(-x, 0.0))
        for n, x in zip(NAMES, a.tolist())})


def from_pyvalues(scores) -> ValueVector:
    """pyvalues ``OriginalValuesWithAttainment`` -> ValueVector (attained - constrained, clipped)."""
    out = []
    for n in NAMES:
        s = getattr(scores, n.replace("-", "_"))
        out.append(float(np.clip(s.attained - s.constrained, -1, 1)))
    return ValueVector(out)
