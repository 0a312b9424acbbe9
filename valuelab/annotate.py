"""Annotators: dialogues in, one label (-1/0/+1) per basic value out. One interface:

    >>> from valuelab.annotate import LexiconAnnotator, LLMAnnotator, agreement
    >>> labels = LexiconAnnotator().annotate(dialogues)         # DataFrame: id + 10 value columns
    >>> labels = LLMAnnotator(cache="runs/llm_labels.jsonl").annotate(dialogues)
    >>> agreement(labels_a, labels_b)                            # kappa / % agreement per value

- ``LLMAnnotator``: any OpenAI-compatible chat endpoint, given the project's guideline
  (``valuelab/guideline.md``) as its instructions. Configured by environment variables
  (``VALUELAB_ANNOTATOR_BASE_URL`` or ``OPENAI_BASE_URL``, ``OPENAI_API_KEY``,
  ``VALUELAB_ANNOTATOR_MODEL``) — never a key in a file. Replies are validated; timeouts, HTTP
  429/5xx and malformed replies are retried with exponential back-off; what still fails goes to a
  quarantine file with the reason. Results are cached per dialogue id (resumable).
- ``LexiconAnnotator``: pyvalues' Schwartz value dictionary; +1 wherever a dictionary word of a
  value occurs in the response. A weak baseline (machine suggestions, never dataset labels).
- ``ReviewWidget`` (``valuelab.widgets``) lets people decide labels, prefilled by any annotator.
"""
from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd

from valuelab.data import append_jsonl, read_jsonl_lenient
from valuelab.values import NAMES, item_value

GUIDELINE = Path(__file__).with_name("guideline.md")


def guideline() -> str:
    """The annotation guideline: the exact instructions the LLM annotator receives."""
    return GUIDELINE.read_text(encoding="utf-8")


def validate_annotation(obj, dialogue_id: str | None = None, strict_items: bool = False) -> dict:
    """Check one annotation ``{"id", "labels": {value: -1|0|1 for all 10}, "items": [...]}``.

    Returns it normalised; raises ValueError naming the first problem. ``strict_items``: each
    item's sign must also equal its value's label (new annotation batches are checked this way).
    """
    if not isinstance(obj, dict):
        raise ValueError("annotation must be a JSON object")
    if dialogue_id is not None and obj.get("id", dialogue_id) != dialogue_id:
        raise ValueError(f"annotation is for id {obj.get('id')!r}, expected {dialogue_id!r}")
    labels = obj.get("labels")
    if not isinstance(labels, dict) or set(labels) != set(NAMES):
        raise ValueError(f"labels must give exactly the 10 values {list(NAMES)}")
    for v, x in labels.items():
        if x not in (-1, 0, 1) or isinstance(x, bool):
            raise ValueError(f"label for {v} must be -1, 0 or 1, got {x!r}")
    items = obj.get("items", [])
    if not isinstance(items, list):
        raise ValueError("items must be a list")
    for it in items:
        m = re.fullmatch(r"(.+): ([+-]1)", str(it))
        if not m:
            raise ValueError(f"item {it!r} must look like 'be honest: +1'")
        value = item_value(m.group(1))  # raises on an unknown item
        if strict_items and labels[value] != int(m.group(2)):
            raise ValueError(f"item {it!r} disagrees with the label {value}: {labels[value]}")
    return {"id": obj.get("id", dialogue_id), "labels": {v: int(labels[v]) for v in NAMES}, "items": items}


def to_frame(annotations: list[dict]) -> pd.DataFrame:
    """Annotation dicts -> DataFrame with id, one int column per value, items, annotator."""
    rows = [{"id": a["id"], **a["labels"], "items": a.get("items", []), "annotator": a.get("annotator")}
            for a in annotations]
    return pd.DataFrame(rows, columns=["id", *NAMES, "items", "annotator"])


# --- the lexicon baseline -------------------------------------------------------------------
class LexiconAnnotator:
    """pyvalues' English Schwartz value dictionary: +1 where a value's word occurs in the response."""

    name = "lexicon"

    def __init__(self):
        from pyvalues.dictionary_classifier import OriginalValuesDictionaryClassifier

        self.classifier = OriginalValuesDictionaryClassifier.get_default()

    def annotate(self, dialogues: pd.DataFrame) -> pd.DataFrame:
        found = self.classifier.classify_segments_for_original_values(list(dialogues["response"]), "en")
        rows = []
        for did, scores in zip(dialogues["id"], found):
            labels = {v: int(getattr(scores, v.replace("-", "_")) > 0) for v in NAMES}
            rows.append({"id": did, "labels": labels, "items": [], "annotator": self.name})
        return to_frame(rows)


# --- the LLM annotator ----------------------------------------------------------------------
class RetryableError(Exception):
    """A failure worth another try (timeout, 429, 5xx, malformed reply)."""


class LLMAnnotator:
    """An LLM behind any OpenAI-compatible endpoint labels dialogues with the guideline.

    ``cache``: JSONL of finished annotations (resumable); ``quarantine``: JSONL of dialogues that
    still failed after ``max_tries`` (id + reason), retried on the next call.
    """

    def __init__(self, model: str | None = None, base_url: str | None = None, cache=None,
                 quarantine=None, max_tries: int = 4, backoff: float = 1.0, timeout: float = 60.0,
                 temperature: float = 0.0):
        from openai import OpenAI

        base_url = base_url or os.environ.get("VALUELAB_ANNOTATOR_BASE_URL") or os.environ.get("OPENAI_BASE_URL")
        if not base_url:
            raise ValueError("LLMAnnotator needs an endpoint: set VALUELAB_ANNOTATOR_BASE_URL (or OPENAI_BASE_URL)")
        self.model = model or os.environ.get("VALUELAB_ANNOTATOR_MODEL", "gpt-4o-mini")
        self.name = f"llm:{self.model}"
        self.client = OpenAI(base_url=base_url, api_key=os.environ.get("OPENAI_API_KEY", "none"),
                             timeout=timeout, max_retries=0)  # retries are ours, with back-off
        self.cache = Path(cache) if cache else None
        self.quarantine = Path(quarantine) if quarantine else (
            self.cache.with_suffix(".quarantine.jsonl") if self.cache else None)
        self.max_tries, self.backoff, self.temperature = max_tries, backoff, temperature
        self.system = guideline() + "\n\nAnswer with the JSON object only."

    def _ask(self, dialogue_id: str, prompt: str, response: str) -> dict:
        import openai

        user = (f"Dialogue id: {dialogue_id}\n\nUser prompt:\n{prompt}\n\nAssistant response:\n{response}\n\n"
                "Label the assistant response.")
        try:
            reply = self.client.chat.completions.create(
                model=self.model, temperature=self.temperature,
                messages=[{"role": "system", "content": self.system}, {"role": "user", "content": user}])
        except (openai.APITimeoutError, openai.APIConnectionError, openai.RateLimitError) as e:
            raise RetryableError(type(e).__name__) from None
        except openai.APIStatusError as e:
            if e.status_code >= 500:
                raise RetryableError(f"HTTP {e.status_code}") from None
            raise
        text = (reply.choices[0].message.content or "").strip()
        text = re.sub(r"^```(?:json)?\s*|\s*```$", "", text)
        try:
            return validate_annotation(json.loads(text), dialogue_id)
        except (json.JSONDecodeError, ValueError) as e:
            raise RetryableError(f"malformed reply: {e}") from None

    def annotate_one(self, dialogue_id: str, prompt: str, response: str) -> dict:
        """One dialogue, with retries; raises RetryableError with the last reason if all fail."""
        for attempt in range(self.max_tries):
            try:
                return {**self._ask(dialogue_id, prompt, response), "annotator": self.name}
            except RetryableError:
                if attempt == self.max_tries - 1:
                    raise
                time.sleep(self.backoff * 2 ** attempt)
        raise AssertionError("unreachable")

    def annotate(self, dialogues: pd.DataFrame, progress: bool = True) -> pd.DataFrame:
        """Label every dialogue not yet in the cache; return all cached labels for these ids."""
        from tqdm.auto import tqdm

        done = {a["id"]: a for a in read_jsonl_lenient(self.cache)}
        todo = dialogues[~dialogues["id"].isin(done)]
        failed = []
        for r in tqdm(todo.itertuples(), total=len(todo), desc="annotate", disable=not progress):
            try:
                a = self.annotate_one(r.id, r.prompt, r.response)
            except RetryableError as e:
                failed.append({"id": r.id, "reason": str(e), "annotator": self.name})
                continue
            done[r.id] = a
            append_jsonl(self.cache, a)
        _rewrite_quarantine(self.quarantine, failed, resolved=set(done))
        return to_frame([done[i] for i in dialogues["id"] if i in done])


def _rewrite_quarantine(path: Path | None, failed: list[dict], resolved: set) -> None:
    if path is None:
        return
    from valuelab.data import write_jsonl_atomic

    keep = [q for q in read_jsonl_lenient(path) if q["id"] not in resolved and q["id"] not in {f["id"] for f in failed}]
    if keep or failed:
        write_jsonl_atomic(path, keep + failed)
    elif path.exists():
        path.unlink()


# --- agreement and statistics ---------------------------------------------------------------
def agreement(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Per value: Cohen's kappa and percent agreement between two label tables (matched on id)."""
    from sklearn.metrics import cohen_kappa_score

    m = a[["id", *NAMES]].merge(b[["id", *NAMES]], on="id", suffixes=("_a", "_b"))
    if m.empty:
        raise ValueError("no dialogue ids in common")
    rows = {}
    for v in NAMES:
        x, y = m[f"{v}_a"], m[f"{v}_b"]
        same = (x == y).mean()
        kappa = cohen_kappa_score(x, y, labels=[-1, 0, 1]) if len(set(x) | set(y)) > 1 else float("nan")
        rows[v] = {"kappa": kappa, "agreement": same, "n": len(m)}
    return pd.DataFrame(rows).T


def krippendorff_alpha(*tables: pd.DataFrame) -> float:
    """Krippendorff's alpha (nominal) over every (dialogue, value) unit, for 2+ annotators."""
    import krippendorff

    ids = sorted(set.intersection(*(set(t["id"]) for t in tables)))
    if not ids:
        raise ValueError("no dialogue ids in common")
    data = np.stack([t.set_index("id").loc[ids, list(NAMES)].to_numpy(dtype=float).ravel() for t in tables])
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))


def label_rates(labels: pd.DataFrame) -> pd.DataFrame:
    """Share of dialogues labelled +1 and -1 per value."""
    return pd.DataFrame({"aligned (+1)": [(labels[v] == 1).mean() for v in NAMES],
                         "violated (-1)": [(labels[v] == -1).mean() for v in NAMES]}, index=list(NAMES))


def confusion(a: pd.DataFrame, b: pd.DataFrame, value: str) -> pd.DataFrame:
    """3x3 confusion of one value's labels (rows: a, columns: b)."""
    m = a[["id", value]].merge(b[["id", value]], on="id", suffixes=("_a", "_b"))
    return pd.crosstab(m[f"{value}_a"], m[f"{value}_b"]).reindex(index=[-1, 0, 1], columns=[-1, 0, 1], fill_value=0)


# FULCRA's published label rates (share of dialogues, aligned / violated; approximate)
FULCRA_RATES = pd.DataFrame({
    "aligned (+1)": [0.27, 0.04, 0.02, 0.31, 0.07, 0.22, 0.04, 0.17, 0.28, 0.20],
    "violated (-1)": [0.04, None, None, 0.003, None, 0.09, None, 0.10, 0.08, 0.025]}, index=list(NAMES))
