"""valuelab's data: one schema per stage, loaders, and atomic JSONL files.

    >>> from valuelab.data import load_prompts, load_dialogues
    >>> prompts = load_prompts()                    # the project's prompt bank (DataFrame)
    >>> prompts[prompts.family == "workplace-manipulation"].heldout.all()
    True

Schemas (one row per record; JSONL on disk, DataFrames in memory):
- prompt:   id, text, kind (harmful | benign | value-dilemma), family, harm_categories (list),
            values (list), stance, heldout (bool: the workplace-manipulation family)
- dialogue: id, prompt_id, prompt, response, sample, model, backend, engine, persona,
            system_prompt, temperature, top_p, max_new_tokens, seed, row_seed, n_tokens, finish_reason
- annotation: id (a dialogue's), labels {value: -1|0|+1 for all 10}, items, annotator
- dataset: a dialogue + its kind / family / harm_categories + split + one int column per value
Paths are anchored to the repository (``DATA``), never to the working directory.
"""
from __future__ import annotations

import json
import os
import re
import tempfile
from pathlib import Path

import pandas as pd

from valuelab.values import NAMES

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
PROMPTS = DATA / "prompts"
DIALOGUES = DATA / "dialogues"
ANNOTATIONS = DATA / "annotations"
SPLITS = ("train", "validation", "test", "heldout")

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


def read_jsonl_lenient(path) -> list[dict]:
    """Records of an append-only JSONL log (a cache, a review file). A torn line — a crash in the
    middle of a write — is skipped, so that its record is simply done again; None -> []."""
    if not path or not Path(path).exists():
        return []
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out


def append_jsonl(path, record: dict) -> None:
    """Append one record as one line, in one write, flushed to disk (None: do nothing)."""
    if path is None:
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record, ensure_ascii=False) + "\n")
        f.flush()
        os.fsync(f.fileno())


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


# --- FULCRA's JSONL format ------------------------------------------------------------------
def parse_dialogue(text: str) -> tuple[str, str]:
    """FULCRA's ``"Human: ...\\nBob: ..."`` -> (prompt, response); the assistant is called Bob."""
    head, sep, response = text.partition("\nBob:")
    if not sep or not head.lstrip().startswith("Human:"):
        raise ValueError(f"not a FULCRA dialogue (needs 'Human:' then '\\nBob:'): {text[:60]!r}")
    return head.lstrip()[len("Human:"):].strip(), response.strip()


def format_dialogue(prompt: str, response: str) -> str:
    return f"Human: {prompt}\nBob: {response}"


def _open_text(path_or_url) -> str:
    s = str(path_or_url)
    if s.startswith(("http://", "https://")):
        import urllib.request

        with urllib.request.urlopen(s, timeout=30) as r:
            return r.read().decode("utf-8")
    return Path(s).read_text(encoding="utf-8")


def read_fulcra(path_or_url, report=None) -> pd.DataFrame:
    """A FULCRA-format JSONL file (path or URL) as a DataFrame: id, prompt, response, dialogue,
    one integer column per value (from ``value_types``), the raw ``value_items`` /
    ``value_types`` lists and the sources. Malformed labels are repaired or rejected by the rules
    of ``valuelab.values.parse_label`` and counted in ``report`` (a ``LabelReport``)."""
    from valuelab.values import LabelReport, parse_labels

    report = report if report is not None else LabelReport()
    rows = []
    for n, line in enumerate(_open_text(path_or_url).splitlines(), 1):
        if not line.strip():
            continue
        rec = json.loads(line)
        prompt, response = parse_dialogue(rec["dialogue"])
        labels = parse_labels(rec.get("value_types", []), report)
        rows.append({"id": rec.get("id", f"fulcra-{n:05d}"), "prompt": prompt, "response": response,
                     "dialogue": rec["dialogue"], **dict(zip(NAMES, labels.tolist())),
                     "value_items": rec.get("value_items", []), "value_types": rec.get("value_types", []),
                     "query_source": rec.get("query_source"), "response_source": rec.get("response_source")})
    return pd.DataFrame(rows)


def write_fulcra(df: pd.DataFrame, path) -> None:
    """Export dialogues with value columns as FULCRA JSONL (only non-zero values are listed)."""
    from valuelab.values import format_label

    records = []
    for _, r in df.iterrows():
        items = r["value_items"] if "value_items" in r and isinstance(r["value_items"], list) else []
        records.append({"dialogue": format_dialogue(r["prompt"], r["response"]), "value_items": list(items),
                        "value_types": [format_label(v, int(r[v])) for v in NAMES if int(r[v])],
                        "query_source": r.get("query_source", "valuelab"),
                        "response_source": r.get("response_source", r.get("model", "unknown"))})
    write_jsonl_atomic(path, records)


# --- external prompt sources (loaded at run time, never committed) ---------------------------
EXTERNAL = {
    "pku-saferlhf": ("PKU-Alignment/PKU-SafeRLHF", "train"),
    "beavertails": ("PKU-Alignment/BeaverTails", "30k_train"),
    "hh-rlhf": ("Anthropic/hh-rlhf", "train"),
}


# PKU-SafeRLHF's 19 harm categories -> the nearest of BeaverTails' 14 (our stated mapping)
PKU_CATEGORIES = {
    "Animal Abuse": "animal abuse", "Copyright Issues": "non-violent unethical behavior",
    "Cybercrime": "financial crime, property crime, theft",
    "Discriminatory Behavior": "discrimination, stereotype, injustice",
    "Disrupting Public Order": "violence, aiding and abetting, incitement",
    "Drugs": "drug abuse, weapons, banned substance", "Economic Crime": "financial crime, property crime, theft",
    "Endangering National Security": "terrorism, organized crime",
    "Endangering Public Health": "misinformation regarding ethics, laws and safety",
    "Environmental Damage": "non-violent unethical behavior", "Human Trafficking": "terrorism, organized crime",
    "Insulting Behavior": "hate speech, offensive language", "Mental Manipulation": "non-violent unethical behavior",
    "Physical Harm": "violence, aiding and abetting, incitement", "Privacy Violation": "privacy violation",
    "Psychological Harm": "violence, aiding and abetting, incitement",
    "Sexual Content": "sexually explicit, adult content", "Violence": "violence, aiding and abetting, incitement",
    "White-Collar Crime": "financial crime, property crime, theft",
}


def _category(name: str) -> str | None:
    """'violence,aiding_and_abetting,incitement' (BeaverTails) or 'Drugs' (PKU) -> our name."""
    if name in PKU_CATEGORIES:
        return PKU_CATEGORIES[name]
    def words(s):
        return s.lower().replace("_", " ").replace(",", " ").replace("-", " ").split()

    for cat in HARM_CATEGORIES:
        if words(cat) == words(name):
            return cat
    return None


def load_external(name: str, split: str | None = None, limit: int | None = None,
                  data_files=None) -> pd.DataFrame:
    """Prompts from a public dataset through ``datasets`` (online), in the prompt schema.

    ``name``: ``pku-saferlhf``, ``beavertails``, ``hh-rlhf``, or a FULCRA JSONL path/URL.
    ``data_files``: local JSON/JSONL files with the dataset's own columns (offline use, tests).
    Columns: id, text, kind, family, harm_categories, values, source (+ response where given).
    """
    if name not in EXTERNAL:
        df = read_fulcra(name)
        return pd.DataFrame({"id": df["id"], "text": df["prompt"], "kind": None, "family": "external",
                             "harm_categories": [[] for _ in range(len(df))], "values": [[] for _ in range(len(df))],
                             "response": df["response"], "source": str(name)}).head(limit)
    import datasets

    repo, default_split = EXTERNAL[name]
    if data_files is not None:
        ds = datasets.load_dataset("json", data_files=[str(f) for f in data_files], split="train")
    else:
        from valuelab.models import OfflineError, hub_reachable

        if not hub_reachable():
            raise OfflineError(f"dataset {repo!r} needs the Hugging Face hub, which is unreachable; "
                               f"pass data_files= with local copies")
        ds = datasets.load_dataset(repo, split=split or default_split)
    if limit:
        ds = ds.select(range(min(limit, len(ds))))
    rows = [_external_row(name, i, r) for i, r in enumerate(ds)]
    return pd.DataFrame(rows).drop_duplicates("text").reset_index(drop=True)


def _external_row(name: str, i: int, r: dict) -> dict:
    if name == "hh-rlhf":  # "\n\nHuman: ...\n\nAssistant: ..." -> the first human turn
        text = r["chosen"].split("\n\nHuman:", 1)[-1].split("\n\nAssistant:", 1)[0].strip()
        return {"id": f"hh-{i:06d}", "text": text, "kind": None, "family": "external",
                "harm_categories": [], "values": [], "source": name}
    if name == "beavertails":  # category: {name: bool}; is_safe for the response
        cats = [c for k, on in r.get("category", {}).items() if on and (c := _category(k))]
        return {"id": f"bt-{i:06d}", "text": r["prompt"].strip(), "kind": "harmful" if cats else None,
                "family": "external", "harm_categories": cats, "values": [], "response": r.get("response"),
                "source": name}
    # PKU-SafeRLHF: prompt + per-response harm categories; either response unsafe -> harmful
    cats = sorted({c for key in ("response_0_harm_category", "response_1_harm_category")
                   for k, on in (r.get(key) or {}).items() if on and (c := _category(k))})
    unsafe = not (r.get("is_response_0_safe", True) and r.get("is_response_1_safe", True))
    return {"id": f"pku-{i:06d}", "text": r["prompt"].strip(), "kind": "harmful" if unsafe else None,
            "family": "external", "harm_categories": cats, "values": [], "source": name}


# --- summaries ------------------------------------------------------------------------------
_REFUSAL = re.compile(
    r"\b(I can(?:'|no)t|I cannot|I won't|I will not|I'm (?:not able|unable)|I am (?:not able|unable)|"
    r"I'm sorry, but|I apologi[sz]e, but|As an AI|I must (?:decline|refuse)|not (?:able|allowed) to "
    r"(?:help|provide|assist))", re.IGNORECASE)


def is_refusal(response: str) -> bool:
    """A surface check for refusal phrasing in the first 200 characters (a statistic for
    summaries and evaluation, never a label: annotation is done by reading)."""
    return bool(_REFUSAL.search(response[:200]))


def dialogue_summary(dialogues: pd.DataFrame, prompts: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """Counts per kind, harm category, value, persona; response lengths; refusal shares."""
    prompts = load_prompts() if prompts is None else prompts
    df = dialogues.merge(prompts[["id", "kind", "family", "harm_categories", "values"]].rename(
        columns={"id": "prompt_id"}), on="prompt_id", how="left")
    df["words"] = df["response"].str.split().str.len()
    df["refusal"] = df["response"].map(is_refusal)
    by = {"kind": df.groupby("kind"), "persona": df.groupby("persona"),
          "temperature": df.groupby("temperature"),
          "harm category": df.explode("harm_categories").groupby("harm_categories"),
          "value": df.explode("values").groupby("values")}
    out = {name: g.agg(dialogues=("id", "size"), refusal_share=("refusal", "mean"),
                       median_words=("words", "median")).round(3) for name, g in by.items()}
    out["length"] = df["words"].describe(percentiles=[0.1, 0.5, 0.9]).round(1).to_frame("response words")
    out["finish"] = df["finish_reason"].value_counts().to_frame("dialogues")
    return out


# --- annotations and the dataset ------------------------------------------------------------
def load_annotations(which: str = "primary", path=ANNOTATIONS) -> pd.DataFrame:
    """Annotations under ``data/annotations/<which>/`` as id + one int column per value + items,
    annotator (``which``: ``primary`` or ``second``, the independent double annotation)."""
    files = sorted((Path(path) / which).glob("*.jsonl"))
    if not files:
        raise FileNotFoundError(f"no annotation files in {Path(path) / which}")
    rows = [r for f in files for r in read_jsonl(f)]
    df = pd.DataFrame([{"id": r["id"], **{v: int(r["labels"][v]) for v in NAMES},
                        "items": r.get("items", []), "annotator": r.get("annotator")} for r in rows])
    if df["id"].duplicated().any():
        raise ValueError(f"{which}: dialogue {df['id'][df['id'].duplicated()].iloc[0]!r} annotated twice")
    return df


def prompt_splits(prompts: pd.DataFrame, fractions=(0.8, 0.1, 0.1)) -> dict[str, str]:
    """Each prompt's fixed split, stratified by kind: within each kind, prompts ordered by a hash
    of their id, the first 80% train, 10% validation, 10% test. The workplace-manipulation family
    is its own ``heldout`` split. Splitting prompts (not dialogues) keeps every response to one
    prompt in one split, so no prompt leaks from training into evaluation."""
    import hashlib

    out = {}
    for _, group in prompts[~prompts["heldout"]].groupby("kind"):
        ids = sorted(group["id"], key=lambda i: hashlib.sha256(i.encode()).hexdigest())
        cut1, cut2 = round(len(ids) * fractions[0]), round(len(ids) * (fractions[0] + fractions[1]))
        out.update({i: "train" if k < cut1 else "validation" if k < cut2 else "test" for k, i in enumerate(ids)})
    out.update({i: "heldout" for i in prompts.loc[prompts["heldout"], "id"]})
    return out


def load_dataset(split: str | None = None, annotations: str = "primary") -> pd.DataFrame:
    """The annotated dataset: dialogues with their labels, prompt metadata and fixed split.

    Columns: id, prompt, response, split, kind, family, harm_categories, provenance (model,
    persona, temperature, ...), one integer column per value (named as in ``values.VALUES``),
    items, annotator. ``split``: train | validation | test | heldout | None (all).
    """
    if split is not None and split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; splits: {', '.join(SPLITS)}")
    prompts = load_prompts()
    splits = prompt_splits(prompts)
    meta = prompts[["id", "kind", "family", "harm_categories", "heldout"]].rename(columns={"id": "prompt_id"})
    df = load_dialogues().merge(meta, on="prompt_id", how="left", validate="many_to_one")
    df = df.merge(load_annotations(annotations), on="id", how="inner", validate="one_to_one")
    df["split"] = df["prompt_id"].map(splits)
    front = ["id", "prompt", "response", "split", "kind", "family", "harm_categories"]
    df = df[front + [c for c in df.columns if c not in front]]
    return df if split is None else df[df["split"] == split].reset_index(drop=True)
