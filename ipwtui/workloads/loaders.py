"""Query files: our JSONL/JSON/CSV schema, MMLU-Pro and GSM8K records, and the bundled sets.

The format is detected from the first record: a ``prompt`` field means our schema, ``question_id``/``options``
mean MMLU-Pro, ``question`` alone means GSM8K. A ``.csv`` file (or one whose first line is a CSV header naming
``prompt``) is our CSV schema. Every problem raises :class:`QueryFileError` naming ``file:line``.

The bundled sets live in the top-level ``sample_queries/`` folder of a source checkout. Installed, they are
looked up inside the package (``ipwtui/sample_queries``) and under ``<prefix>/share/ipwtui/sample_queries``.
"""

from __future__ import annotations

import csv
import io
import json
import re
import site
import sys
from pathlib import Path
from typing import Iterable, Iterator

from .base import EXACT, KINDS, MC, NONE, NUMERIC, REGEX, Query, QueryFileError
from .scoring import LETTERS, parse_number, scorer_kinds

# ---------------------------------------------------------------------------------------------------------------
# prompts
# ---------------------------------------------------------------------------------------------------------------

INSTRUCTIONS: dict[str, str] = {
    MC: "Answer with the letter of the correct option only.",
    NUMERIC: 'Keep it short. End your reply with a line of the form "Answer: <number>".',
    EXACT: "Answer with just the answer, in a few words.",
    REGEX: "Answer concisely.",
    NONE: "Answer concisely.",
}
DEFAULT_INSTRUCTION = "Answer concisely."


def render_prompt(question: str, kind: str, choices: list[str] | None = None,
                  instruction: str | None = None) -> str:
    """The user message for a query: the question, its options as "A) ..." lines, then a short instruction.

    ``instruction`` replaces the kind's default; "" adds none. An instruction the question already ends with
    is not repeated."""
    parts = [question.strip()]
    if choices:
        parts.append("\n".join(f"{LETTERS[i]}) {c}" for i, c in enumerate(choices)))
    if instruction is None:
        instruction = INSTRUCTIONS.get(kind, DEFAULT_INSTRUCTION)
    instruction = instruction.strip()
    if instruction and not parts[-1].endswith(instruction):
        parts.append(instruction)
    return "\n\n".join(parts)


# ---------------------------------------------------------------------------------------------------------------
# our schema
# ---------------------------------------------------------------------------------------------------------------

FIELDS = ("id", "domain", "kind", "prompt", "answer", "choices", "tolerance", "aliases", "instruction", "system",
          "example", "dataset")
CSV_COLUMNS = ("id", "domain", "kind", "prompt", "answer", "choices", "tolerance")  # the standard header
CSV_OPTIONAL = ("aliases", "instruction", "system", "example", "dataset")
CSV_REQUIRED = ("prompt", "answer")
LIST_SEP = " | "  # separates choices (and aliases) in a CSV cell
DEFAULT_DOMAIN = "general"
BUNDLED_DATASET = "sample_queries"

MMLU_PRO = "mmlu-pro"
GSM8K = "gsm8k"
OURS = "ipwtui"


class _Ctx:
    """Per-file state while loading: where we are, which ids were seen."""

    def __init__(self, path: Path, dataset: str):
        self.path = path
        self.dataset = dataset
        self.stem = path.stem
        self.seen: dict[str, int] = {}
        self.index = 0
        self.warnings: list[str] = []
        self._warned: set[str] = set()

    def warn_case(self, rec: dict, line: int, known: tuple[str, ...]) -> None:
        """A field that differs from a known one only in case ("Answer") is not read: say so, once a file."""
        lower = {k.lower(): k for k in known}
        for key in rec:
            if isinstance(key, str) and key not in known and key.lower() in lower and key not in self._warned:
                self._warned.add(key)
                self.warnings.append(f'{self.path}:{line}: field "{key}" is not read: did you mean '
                                     f'"{lower[key.lower()]}"? (field names are lower case)')
        self.kinds = tuple(dict.fromkeys(KINDS + scorer_kinds()))

    def fail(self, line: int | None, message: str) -> QueryFileError:
        return QueryFileError(self.path, line, message)

    def claim_id(self, qid: str, line: int) -> None:
        if qid in self.seen:
            raise self.fail(line, f'duplicate id "{qid}" (first at line {self.seen[qid]})')
        self.seen[qid] = line


def _opt_str(ctx: _Ctx, rec: dict, name: str, line: int) -> str | None:
    value = rec.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ctx.fail(line, f'field "{name}" must be a string, got {_json_type(value)}')
    return value


def _str_list(ctx: _Ctx, rec: dict, name: str, line: int) -> list[str] | None:
    value = rec.get(name)
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ctx.fail(line, f'field "{name}" must be a list of strings')
    return value


def _json_type(value) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number",
            type(None): "null"}.get(type(value), type(value).__name__)


def _answer_text(ctx: _Ctx, rec: dict, line: int) -> str | None:
    value = rec.get("answer")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ctx.fail(line, f'field "answer" must be a string or a number, got {_json_type(value)}')
    return str(value).strip()


def _from_ours(ctx: _Ctx, rec: dict, line: int) -> Query:
    ctx.warn_case(rec, line, FIELDS)
    prompt = rec.get("prompt")
    if prompt is None:
        raise ctx.fail(line, 'missing field "prompt"')
    if not isinstance(prompt, str) or not prompt.strip():
        raise ctx.fail(line, 'field "prompt" must be a non-empty string')

    raw_id = rec.get("id")
    if raw_id is None:
        qid = f"{ctx.stem}-{ctx.index:03d}"
    elif isinstance(raw_id, bool) or not isinstance(raw_id, (str, int)) or not str(raw_id).strip():
        raise ctx.fail(line, 'field "id" must be a non-empty string or an integer')
    else:
        qid = str(raw_id).strip()
    ctx.claim_id(qid, line)

    domain = (_opt_str(ctx, rec, "domain", line) or "").strip() or DEFAULT_DOMAIN
    answer = _answer_text(ctx, rec, line)
    choices = _str_list(ctx, rec, "choices", line)
    aliases = _str_list(ctx, rec, "aliases", line)
    instruction = _opt_str(ctx, rec, "instruction", line)
    system = _opt_str(ctx, rec, "system", line)
    example = _opt_str(ctx, rec, "example", line)
    dataset = (_opt_str(ctx, rec, "dataset", line) or "").strip() or ctx.dataset

    kind = rec.get("kind")
    if kind is None:  # infer: choices -> mc; no answer -> none; a number -> numeric; else exact
        if choices:
            kind = MC
        elif answer is None or answer == "":
            kind = NONE
        elif parse_number(answer) is not None:
            kind = NUMERIC
        else:
            kind = EXACT
    if not isinstance(kind, str) or kind not in ctx.kinds:
        raise ctx.fail(line, f'unknown kind "{kind}" (valid: {", ".join(ctx.kinds)})')

    tolerance = rec.get("tolerance")
    if tolerance is not None:
        if kind != NUMERIC:
            raise ctx.fail(line, f'field "tolerance" applies only to kind "numeric", not "{kind}"')
        if isinstance(tolerance, bool) or not isinstance(tolerance, (int, float)) or not tolerance >= 0:
            raise ctx.fail(line, f'field "tolerance" must be a number >= 0, got {tolerance!r}')
        tolerance = float(tolerance)
    if choices is not None and kind != MC:
        raise ctx.fail(line, f'field "choices" applies only to kind "mc", not "{kind}"')

    reference = answer if answer not in (None, "") else None
    if kind in (MC, NUMERIC, EXACT, REGEX) and reference is None:
        raise ctx.fail(line, f'missing field "answer" (required for kind "{kind}")')
    if reference is None:
        pass
    elif kind == MC:
        if not choices or len(choices) < 2:
            raise ctx.fail(line, 'kind "mc" needs "choices": a list of at least 2 options')
        if len(choices) > len(LETTERS):
            raise ctx.fail(line, f"too many choices: {len(choices)} (at most {len(LETTERS)})")
        if any(not c.strip() for c in choices):
            raise ctx.fail(line, "a choice is empty")
        reference = reference.upper()
        valid = LETTERS[: len(choices)]
        if len(reference) != 1 or reference not in valid:
            raise ctx.fail(line, f'MC answer "{answer}" is not one of the choice letters {valid[0]}-{valid[-1]}')
    elif kind == NUMERIC:
        if parse_number(reference) is None:
            raise ctx.fail(line, f'numeric answer "{answer}" is not a number')
        reference = re.sub(r"[,$\s]", "", reference)
    elif kind == REGEX:
        try:
            re.compile(reference, re.MULTILINE)
        except re.error as exc:
            raise ctx.fail(line, f'answer is not a valid regular expression: {exc}') from None

    meta: dict = {"question": prompt}
    if choices:
        meta["choices"] = [c.strip() for c in choices]
    if aliases:
        meta["aliases"] = aliases
    if example is not None:
        meta["example"] = example
    if instruction is not None:
        meta["instruction"] = instruction
    for key, value in rec.items():  # keep whatever else the record carries
        if key not in FIELDS:
            meta[key] = value
    return Query(id=qid, prompt=render_prompt(prompt, kind, meta.get("choices"), instruction), reference=reference,
                 kind=kind, domain=domain, dataset=dataset, system=system or None, tolerance=tolerance, meta=meta)


# ---------------------------------------------------------------------------------------------------------------
# MMLU-Pro and GSM8K
# ---------------------------------------------------------------------------------------------------------------

_MMLU_REQUIRED = ("question_id", "question", "options", "answer", "category")
_GSM8K_FINAL = re.compile(r"####\s*(.*?)\s*$")


def _from_mmlu_pro(ctx: _Ctx, rec: dict, line: int) -> Query:
    for name in _MMLU_REQUIRED:
        if name not in rec:
            raise ctx.fail(line, f'missing field "{name}" (MMLU-Pro record)')
    question, options, answer, category = rec["question"], rec["options"], rec["answer"], rec["category"]
    if not isinstance(question, str) or not question.strip():
        raise ctx.fail(line, 'field "question" must be a non-empty string')
    if not isinstance(options, list) or not options or not all(isinstance(o, str) for o in options):
        raise ctx.fail(line, 'field "options" must be a non-empty list of strings')
    if len(options) > len(LETTERS):
        raise ctx.fail(line, f"too many options: {len(options)} (at most {len(LETTERS)})")
    valid = LETTERS[: len(options)]
    if not isinstance(answer, str) or answer.strip().upper() not in valid or len(answer.strip()) != 1:
        raise ctx.fail(line, f'MC answer "{answer}" is not one of the choice letters {valid[0]}-{valid[-1]}')
    answer = answer.strip().upper()
    index = rec.get("answer_index")
    if index is not None and index != LETTERS.index(answer):
        raise ctx.fail(line, f'answer "{answer}" disagrees with answer_index {index}')
    if not isinstance(category, str) or not category.strip():
        raise ctx.fail(line, 'field "category" must be a non-empty string')
    qid = f"{MMLU_PRO}-{rec['question_id']}"
    ctx.claim_id(qid, line)
    meta = {"question": question, "choices": options, "question_id": rec["question_id"]}
    if "pred" in rec:
        meta["cloud_pred"] = rec["pred"]
    if "src" in rec:
        meta["src"] = rec["src"]
    return Query(id=qid, prompt=render_prompt(question, MC, options), reference=answer, kind=MC,
                 domain=category.strip(), dataset=MMLU_PRO, meta=meta)


def _from_gsm8k(ctx: _Ctx, rec: dict, line: int) -> Query:
    for name in ("question", "answer"):
        if name not in rec:
            raise ctx.fail(line, f'missing field "{name}" (GSM8K record)')
    question, solution = rec["question"], rec["answer"]
    if not isinstance(question, str) or not question.strip():
        raise ctx.fail(line, 'field "question" must be a non-empty string')
    if not isinstance(solution, str):
        raise ctx.fail(line, 'field "answer" must be a string ending in a "#### <number>" line')
    finals = [m for ln in solution.splitlines() if (m := _GSM8K_FINAL.match(ln.strip()))]
    if not finals:
        raise ctx.fail(line, 'GSM8K answer has no final "#### <number>" line')
    final = finals[-1].group(1)
    reference = re.sub(r"[,$\s]", "", final)
    if parse_number(reference) is None:
        raise ctx.fail(line, f'GSM8K answer after "####" is not a number: "{final}"')
    qid = str(rec["id"]) if rec.get("id") is not None else f"{GSM8K}-{ctx.index:04d}"
    ctx.claim_id(qid, line)
    return Query(id=qid, prompt=render_prompt(question, NUMERIC), reference=reference, kind=NUMERIC,
                 domain="math", dataset=GSM8K, meta={"question": question, "solution": solution})


def _detect(rec: dict) -> str:
    if "prompt" in rec:
        return OURS
    if "question_id" in rec or "options" in rec:
        return MMLU_PRO
    if "question" in rec:
        return GSM8K
    return OURS  # reports the missing "prompt"


_CONVERTERS = {OURS: _from_ours, MMLU_PRO: _from_mmlu_pro, GSM8K: _from_gsm8k}

# ---------------------------------------------------------------------------------------------------------------
# reading records
# ---------------------------------------------------------------------------------------------------------------


def _read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise QueryFileError(path, None, "no such file") from None
    except IsADirectoryError:
        raise QueryFileError(path, None, "is a directory, not a query file") from None
    except PermissionError:
        raise QueryFileError(path, None, "cannot read the file: permission denied") from None
    except OSError as exc:
        raise QueryFileError(path, None, f"cannot read the file: {exc.strerror or exc}") from None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # a UTF-16 file (a spreadsheet's "Unicode text") says so
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise QueryFileError(path, None, "starts as UTF-16 but is not valid UTF-16; save it as UTF-8") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        col = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise QueryFileError(path, line, f"undecodable bytes: not UTF-8 (byte 0x{data[exc.start]:02x} at "
                                         f"column {col})") from None


def _jsonl_records(ctx: _Ctx, text: str) -> Iterator[tuple[int, object]]:
    for n, raw in enumerate(text.split("\n"), start=1):
        raw = raw.strip()
        if not raw:
            continue
        try:
            obj = json.loads(raw)
        except RecursionError:
            raise ctx.fail(n, "invalid JSON: nested too deeply") from None
        except json.JSONDecodeError as exc:
            if _is_one_json_object(text):
                raise ctx.fail(n, "one JSON object spread over several lines: write one object per line (JSONL) "
                                  "or a JSON array of objects") from None
            raise ctx.fail(n, f"invalid JSON: {exc.msg} (column {exc.colno})") from None
        yield n, obj


def _is_one_json_object(text: str) -> bool:
    try:
        return isinstance(json.loads(text), dict)
    except (json.JSONDecodeError, RecursionError):
        return False


def _json_array_records(ctx: _Ctx, text: str) -> Iterator[tuple[int, object]]:
    dec = json.JSONDecoder()
    ws = re.compile(r"\s*")

    def line_of(pos: int) -> int:
        return text.count("\n", 0, pos) + 1

    def skip_ws(pos: int) -> int:
        m = ws.match(text, pos)
        return m.end() if m else pos  # \s* always matches

    pos = skip_ws(0) + 1  # after "["
    first = True
    while True:
        pos = skip_ws(pos)
        if pos >= len(text):
            raise ctx.fail(line_of(pos), "invalid JSON: the array is not closed with ]")
        if text[pos] == "]":
            rest = skip_ws(pos + 1)
            if rest != len(text):
                raise ctx.fail(line_of(rest), "invalid JSON: extra data after the array")
            return
        if not first:
            if text[pos] != ",":
                raise ctx.fail(line_of(pos), "invalid JSON: expected , or ] between records")
            pos = skip_ws(pos + 1)
        try:
            obj, end = dec.raw_decode(text, pos)
        except RecursionError:
            raise ctx.fail(line_of(pos), "invalid JSON: nested too deeply") from None
        except json.JSONDecodeError as exc:
            raise ctx.fail(exc.lineno, f"invalid JSON: {exc.msg} (column {exc.colno})") from None
        yield line_of(pos), obj
        pos, first = end, False


def _looks_like_csv(path: Path, text: str) -> bool:
    if path.suffix.lower() == ".csv":
        return True
    first = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    if first.startswith(("{", "[")):
        return False
    names = [c.strip().strip('"').lower() for c in first.split(",")]
    return "prompt" in names and all(n in FIELDS for n in names)


def _csv_records(ctx: _Ctx, text: str) -> Iterator[tuple[int, object]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    known = CSV_COLUMNS + CSV_OPTIONAL
    expected = ",".join(CSV_COLUMNS)
    try:
        header = next(reader, None)
        while header is not None and not any(h.strip() for h in header):
            header = next(reader, None)
        if header is None:
            return
        header_line = reader.line_num
        names = [h.strip().lower() for h in header]
        for name in names:
            if name not in known:
                raise ctx.fail(header_line, f'CSV header: unknown column "{name}" (expected {expected}; '
                                            f'optional: {",".join(CSV_OPTIONAL)})')
            if names.count(name) > 1:
                raise ctx.fail(header_line, f'CSV header: column "{name}" appears twice')
        for name in CSV_REQUIRED:
            if name not in names:
                raise ctx.fail(header_line, f'CSV header: missing column "{name}" (expected {expected})')
        prev_end = reader.line_num
        for row in reader:
            start, prev_end = prev_end + 1, reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(names):
                raise ctx.fail(start, f"CSV row has {len(row)} fields, the header has {len(names)}")
            rec: dict = {}
            for name, cell in zip(names, row):
                if not cell.strip():
                    continue
                if name in ("choices", "aliases"):
                    rec[name] = [c.strip() for c in cell.split(LIST_SEP)]
                elif name == "tolerance":
                    try:
                        rec[name] = float(cell)
                    except ValueError:
                        raise ctx.fail(start, f'field "tolerance" must be a number, got "{cell}"') from None
                else:
                    rec[name] = cell
            yield start, rec
    except csv.Error as exc:
        raise ctx.fail(reader.line_num, f"invalid CSV: {exc}") from None


# ---------------------------------------------------------------------------------------------------------------
# public API
# ---------------------------------------------------------------------------------------------------------------


def load_queries(path: str | Path) -> list[Query]:
    """Load a query file (our JSONL / JSON array / CSV schema, MMLU-Pro JSONL or GSM8K JSONL).

    Raises QueryFileError (``file:line: message``) for a missing, unreadable, empty or malformed file."""
    return load_queries_checked(path)[0]


def load_queries_checked(path: str | Path) -> tuple[list[Query], list[str]]:
    """``load_queries`` and the warnings met (``file:line: ...``, one line each): fields that are not
    read because they differ from a known one only in case."""
    path = Path(path)
    text = _read_text(path)
    if not text.strip():
        raise QueryFileError(path, None, "empty file: no queries")
    bundled = sample_queries_dir()
    in_bundle = bundled is not None and path.resolve().parent == bundled.resolve()
    ctx = _Ctx(path, BUNDLED_DATASET if in_bundle else path.stem)

    records: Iterable[tuple[int, object]]
    if _looks_like_csv(path, text):
        records = _csv_records(ctx, text)
    elif text.lstrip().startswith("["):
        records = _json_array_records(ctx, text)
    else:
        records = _jsonl_records(ctx, text)

    queries: list[Query] = []
    fmt = None
    for line, rec in records:
        if not isinstance(rec, dict):
            raise ctx.fail(line, f"expected a JSON object, got {_json_type(rec)}")
        if fmt is None:
            fmt = _detect(rec)
        ctx.index += 1
        queries.append(_CONVERTERS[fmt](ctx, rec, line))
    if not queries:
        raise QueryFileError(path, None, "empty file: no queries")
    return queries, ctx.warnings


def _record_of(q: Query) -> dict:
    meta = q.meta or {}
    question = meta.get("question", q.prompt)
    choices = meta.get("choices")
    if q.kind == MC and not choices:
        raise ValueError(f'query "{q.id}": an MC query needs meta["choices"] to be saved')
    rec: dict = {"id": q.id, "domain": q.domain, "kind": q.kind, "prompt": question, "answer": q.reference}
    if choices:
        rec["choices"] = list(choices)
    if q.tolerance is not None:
        rec["tolerance"] = q.tolerance
    for key in ("aliases", "instruction", "example"):
        if meta.get(key) is not None:
            rec[key] = meta[key]
    if q.system:
        rec["system"] = q.system
    rec["dataset"] = q.dataset
    return rec


def save_queries(queries: Iterable[Query], path: str | Path) -> Path:
    """Write queries in our schema: CSV when ``path`` ends in .csv, else JSONL. Returns the path.

    Loading the file again gives the same queries (extra meta fields survive in JSONL only)."""
    path = Path(path)
    recs = [_record_of(q) for q in queries]
    for rec in recs:  # the dataset is implied by the file name unless it differs
        if rec["dataset"] == path.stem:
            del rec["dataset"]
    if path.suffix.lower() == ".csv":
        optional = [c for c in CSV_OPTIONAL if any(c in r for r in recs)]
        columns = list(CSV_COLUMNS) + optional
        buf = io.StringIO(newline="")
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(columns)
        for rec in recs:
            row = []
            for c in columns:
                value = rec.get(c)
                if value is None:
                    row.append("")
                elif isinstance(value, list):
                    if any(LIST_SEP in v for v in value):
                        raise ValueError(f'query "{rec["id"]}": a {c} entry contains "{LIST_SEP}"')
                    row.append(LIST_SEP.join(value))
                else:
                    row.append(str(value))
            writer.writerow(row)
        path.write_text(buf.getvalue(), encoding="utf-8")
    else:
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in recs), encoding="utf-8")
    return path


def _bundled_candidates() -> list[Path]:
    pkg = Path(__file__).resolve().parents[1]
    out = [pkg.parent / "sample_queries", pkg / "sample_queries", Path(sys.prefix) / "share" / "ipwtui" /
           "sample_queries"]
    user_base = getattr(site, "USER_BASE", None)
    if user_base:
        out.append(Path(user_base) / "share" / "ipwtui" / "sample_queries")
    return out


def sample_queries_dir() -> Path | None:
    """The folder holding the bundled sets (the first candidate that has mixed.jsonl), or None."""
    for cand in _bundled_candidates():
        if (cand / "mixed.jsonl").is_file():
            return cand
    return None


def bundled_sets() -> list[Path]:
    """The bundled query files (mixed.jsonl, quick.jsonl, ...), sorted by name; [] when not found."""
    folder = sample_queries_dir()
    if folder is None:
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in (".jsonl", ".json", ".csv"))


def default_queries_path() -> Path:
    """The default set, ``sample_queries/mixed.jsonl``."""
    folder = sample_queries_dir()
    if folder is None:
        looked = ", ".join(str(c) for c in _bundled_candidates())
        raise QueryFileError("sample_queries/mixed.jsonl", None, f"the bundled query sets were not found "
                                                                 f"(looked in {looked})")
    return folder / "mixed.jsonl"


def resolve_queries(name_or_path: str | Path | None = None) -> Path:
    """A query file from a path, or from a bundled set's name ("mixed", "quick"); None gives the default."""
    if name_or_path is None or str(name_or_path) == "":
        return default_queries_path()
    path = Path(name_or_path).expanduser()
    if path.exists():
        return path
    sets = bundled_sets()
    for p in sets:
        if str(name_or_path) in (p.stem, p.name):
            return p
    names = ", ".join(p.stem for p in sets) or "none found"
    raise QueryFileError(name_or_path, None, f"no such file or bundled set (bundled sets: {names})")


def load_set(name_or_path: str | Path | None = None) -> list[Query]:
    """``load_queries(resolve_queries(name_or_path))``."""
    return load_queries(resolve_queries(name_or_path))


def domain_counts(queries: Iterable[Query]) -> dict[str, int]:
    """How many queries each domain has, sorted by domain name."""
    counts: dict[str, int] = {}
    for q in queries:
        counts[q.domain] = counts.get(q.domain, 0) + 1
    return dict(sorted(counts.items()))
