"""valuelab's data: one schema per stage, loaders, and atomic JSONL files.

    >>> from valuelab.data import load_prompts, load_dialogues
    >>> prompts = load_prompts()                    # the project's prompt bank (DataFrame)
    >>> prompts[prompts.family == "workplace-manipulation"].heldout.all()
    True

Schemas (one row per record; JSONL on disk, DataFrames in memory):
- prompt:   id, text, kind (harmful | benign | value-dilemma), family, harm_categories (list),
            values (list), stance, heldout (bool: the workplace-manipulation family)
- dialogue: id, prompt_id, prompt, response, sample, model, backend, persona, system_prompt,
            temperature, top_p, max_new_tokens, seed, row_seed, n_tokens, finish_reason
Paths are anchored to the repository (``DATA``), never to the working directory.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pandas as pd

from valuelab.values import NAMES

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
PROMPTS = DATA / "prompts"
DIALOGUES = DATA / "dialogues"

KINDS = ("harmful", "benign", "value-dilemma")
HARM_CATEGORIES = (
    "animal abuse", "child abuse", "controversial topics, politics",
    "discrimination, stereotype, injustice", "drug abuse, weapons, banned substance",
    "financial crime, property crime, theft", "hate speech, offensive language",
    "misinformation regarding ethics, laws and safety", "non-violent unethical behavior",
    "privacy violation", "self-harm", "sexually explicit, adult content",
    "terrorism, organized crime", "violence, aiding and abetting, incitement")
HELDOUT_FAMILY = "workplace-manipulation"
STANCES = ("direct", "first-person", "role-play", "indirect", "hypothetical", "third-person")


# --- files ----------------------------------------------------------------------------------
def write_atomic(path, text: str) -> None:
    """Write ``text`` to ``path`` so that readers see the old file or the new one, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_jsonl_atomic(path, records) -> None:
    write_atomic(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))


def read_jsonl(path) -> list[dict]:
    """Records of a JSONL file; a bad line raises an error naming the file and line."""
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError as e:
                    raise ValueError(f"{path}:{n}: not valid JSON ({e.msg})") from None
    return out


# --- prompts --------------------------------------------------------------------------------
def validate_prompts(df: pd.DataFrame) -> pd.DataFrame:
    """Check the prompt schema; raise one error naming the first problem found."""
    need = {"id", "text", "kind", "family", "harm_categories", "values", "stance"}
    if missing := need - set(df.columns):
        raise ValueError(f"prompts lack column(s) {sorted(missing)}")
    if df["id"].duplicated().any():
        raise ValueError(f"duplicate prompt id {df['id'][df['id'].duplicated()].iloc[0]!r}")
    for col, allowed in (("kind", KINDS), ("stance", STANCES)):
        bad = df.loc[~df[col].isin(allowed), "id"]
        if len(bad):
            raise ValueError(f"prompt {bad.iloc[0]!r}: {col} not one of {allowed}")
    for pid, cats, vals in zip(df["id"], df["harm_categories"], df["values"]):
        if unknown := [c for c in cats if c not in HARM_CATEGORIES]:
            raise ValueError(f"prompt {pid!r}: unknown harm category {unknown[0]!r}")
        if not vals or [v for v in vals if v not in NAMES]:
            raise ValueError(f"prompt {pid!r}: values must be a non-empty list of {NAMES}")
    return df


def load_prompts(path=PROMPTS, include_heldout: bool = True) -> pd.DataFrame:
    """The prompt bank as a DataFrame (a folder of ``*.jsonl`` files, or one file)."""
    path = Path(path)
    files = sorted(path.glob("*.jsonl")) if path.is_dir() else [path] if path.exists() else []
    if not files:
        raise FileNotFoundError(f"no prompt files (*.jsonl) in {path}")
    df = pd.DataFrame([r for f in files for r in read_jsonl(f)])
    if "stance" not in df:  # plain prompt lists (id, text) are fine for generation
        return df
    df = validate_prompts(df)
    df["heldout"] = df["family"] == HELDOUT_FAMILY
    return df if include_heldout else df[~df["heldout"]].reset_index(drop=True)


# --- dialogues ------------------------------------------------------------------------------
def load_dialogues(path=DIALOGUES) -> pd.DataFrame:
    """Every generated (prompt, response) record under ``path`` (all run folders' shards)."""
    files = sorted(Path(path).glob("**/shard-*.jsonl"))
    if not files:
        raise FileNotFoundError(f"no generation shards under {path}")
    df = pd.DataFrame([r for f in files for r in read_jsonl(f)])
    if df["id"].duplicated().any():
        raise ValueError(f"duplicate dialogue id {df['id'][df['id'].duplicated()].iloc[0]!r}")
    return df
