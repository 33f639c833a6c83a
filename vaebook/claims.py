"""Claims: what a chapter asserts, stated once as data, and the verdict several seeds give it.

A :class:`Claim` says that one recorded value lies on one side of a threshold: a number, or another recorded
value (times a factor, plus an offset)::

    Claim("kl_bernoulli", "the Bernoulli VAE's KL ranks MNIST as less typical than Fashion-MNIST",
          reads="auc_kl_bernoulli", op=">", than=0.5, source=Paper("Table 1: 0.61"))

Its *margin* in one run is how far the value lies on the claimed side (positive: the claim holds in that run).
A chapter declares its claims in one cell, beside its reproduction table, and records them with its numbers
(``vb.record(..., claims=CLAIMS)``). ``make seeds`` runs every chapter with several seeds and commits their
recorded values (``vaebook/bundle/seeds.json``) with a fingerprint of the code that made them. Everything that
speaks of a claim reads these two records: the chapter's verdict table and its "What we found", the claim
tests, and the scorecard. The verdict follows one rule, :data:`RULE`:

* **holds**: the margin is positive in every seed, and its mean is at least :data:`SPREADS` times its noise;
* **fails**: the same on the other side;
* **undecided**: anything else, including fewer than :data:`MIN_SEEDS` seeds.

The *noise* of a claim is the larger of its margin's standard deviation over the seeds and :data:`FLOOR` of the
compared values' size, so that a near tie is never decided by rounding. A claim that a paper makes but that
does not hold here carries the reason in ``known_failure``; a claim that fails without one is an error of
the book, and so is a known failure that holds.

Used in: every chapter's claims cell and verdict table, ``tests/test_claims.py``, ``scripts/seeds.py``, the
scorecard.
"""
from __future__ import annotations

import ast
import hashlib
import json
import math
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path

__all__ = ["Paper", "Ours", "Claim", "Verdict", "RULE", "verdicts", "verdict", "contradiction", "fingerprint",
           "seed_record", "check_seed_file", "SeedRecordError", "seed_values", "seed_series", "seed_mean", "seeds_describe", "stale", "from_notebook", "glue", "status", "table", "SEEDS_FILE",
           "record_name", "variants", "variant_parameters", "canonical_variant", "number_words", "PAPER_SCALE", "ScaleRuns", "paper_scale_runs", "paper_scale_verdicts", "paper_scale_about",
           "paper_scale_words"]

MIN_SEEDS = 3   # fewer seeds decide nothing
SPREADS = 2.0   # the mean margin must be this many noises from zero
FLOOR = 0.01    # the smallest noise, as a fraction of the compared values' size: rounding and near ties
PREDICTION = 0.99  # a further run contradicts a verdict only outside this prediction interval of the seeds
RULE = (f"A claim **holds** when its margin (how far the measured value lies on the claimed side of its threshold) "
        f"is positive in every seed and its mean over the seeds is at least {SPREADS:g} times its noise; it "
        f"**fails** when the same is true on the other side; otherwise it is **undecided**. The noise is the largest "
        f"of the margin's standard deviation over the seeds, {FLOOR:.0%} of the compared values' size, and the "
        f"claim's resolution (1 for a count; a yes/no read against 0.5 has none: it is decided when its seeds "
        f"agree). At least {MIN_SEEDS} seeds are needed. With 3 seeds, "
        f"'holds' is about a one-sided t-test at the 4 % level: across the book's claims, expect a wrong decision "
        f"now and then among those whose true margin is near zero.")
SEEDS_FILE = Path(__file__).parent / "bundle" / "seeds.json"
# Runs at the paper's scale (``python -m vaebook.paper_scale``): one results file per run, committed as package data
PAPER_SCALE = Path(__file__).parent / "bundle" / "paper_scale"
HOLDS, FAILS, UNDECIDED = "holds", "fails", "undecided"


@dataclass(frozen=True)
class Paper:
    """The threshold or direction comes from the paper: ``where`` names the table or figure (and its number)."""
    where: str

    def __str__(self) -> str:
        return f"paper ({self.where})"


@dataclass(frozen=True)
class Ours:
    """The threshold is ours, chosen before the chapter first ran (``post_hoc=False``) or after seeing results."""
    post_hoc: bool = False

    def __str__(self) -> str:
        return "ours, chosen after seeing results" if self.post_hoc else "ours, chosen before the first run"


@dataclass(frozen=True)
class Claim:
    """``reads`` ``op`` (``">"`` or ``"<"``) ``times · than + plus``, where ``than`` is a number or a recorded value.

    ``id`` names the claim within its chapter; ``text`` is the sentence the chapter asserts; ``source`` says
    where the threshold comes from; ``known_failure`` says why a paper's claim is not expected to hold here
    (words only: the numbers are in the chapter's tables); ``optional`` lets a profile leave its values out;
    ``resolution`` is the step of a count, which no margin smaller than it can be trusted across (a yes/no, 0 or 1
    read against 0.5, needs none: its margin is ±0.5 in every seed, and the seeds decide it when they agree);
    ``repeats`` names the chapter whose claim this one restates; ``variant`` names the experiment that decides it when
    it is not the chapter as written but the chapter run with other parameters (``"decoder=conv"``): its own seed runs
    (:func:`record_name`), made apart from the book because they cost more than a page's budget.
    """
    id: str
    text: str
    reads: str
    op: str
    than: float | str
    source: Paper | Ours
    times: float = 1.0
    plus: float = 0.0
    known_failure: str = ""
    optional: bool = False  # a profile may not measure what it reads (a sweep point, a full-profile section)
    resolution: float = 0.0  # the smallest step the value can take: 1 for a count (none for a yes/no)
    repeats: str = ""  # the chapter whose claim this one repeats (the scorecard counts it there only)
    variant: str = ""  # "name=value,…": decided by the seed runs of the chapter run with these parameters

    def __post_init__(self):
        if self.op not in (">", "<"):
            raise ValueError(f"claim {self.id!r}: op must be '>' or '<', got {self.op!r}")
        if not isinstance(self.source, (Paper, Ours)):
            raise ValueError(f"claim {self.id!r}: source must be Paper('Table …') or Ours(post_hoc=…), "
                             f"got {self.source!r}")
        if not self.id.isidentifier():
            raise ValueError(f"claim id {self.id!r} is not a plain name (letters, digits, '_')")
        if self.variant:
            try:
                canonical = canonical_variant(self.variant)
            except ValueError as e:
                raise ValueError(f"claim {self.id!r}: {e}") from None
            if canonical != self.variant:  # one spelling per variant: it names the variant's record
                raise ValueError(f"claim {self.id!r}: write its variant as {canonical!r}, not {self.variant!r}")

    def threshold(self, values: dict) -> float | None:
        """The threshold in a run with these recorded ``values``; None when the run did not record it."""
        if isinstance(self.than, str):
            return self.times * values[self.than] + self.plus if self.than in values else None
        return self.times * float(self.than) + self.plus

    def margin(self, values: dict) -> float | None:
        """How far the value lies on the claimed side of the threshold; None when the run did not record it."""
        threshold = self.threshold(values)
        if self.reads not in values or threshold is None:
            return None
        d = values[self.reads] - threshold
        return d if self.op == ">" else -d

    def size(self, values: dict) -> float:
        """The compared values' size, for the noise floor."""
        threshold = self.threshold(values)
        return max(abs(values.get(self.reads, 0.0)), abs(threshold or 0.0))

    def comparison(self) -> str:
        """The comparison as a reader reads it: ``auc_kl_bernoulli > 0.5``."""
        than = self.than if isinstance(self.than, str) else f"{self.than:g}"
        than = f"{self.times:g} × {than}" if self.times != 1 else than
        than = f"{than} {'+' if self.plus > 0 else '−'} {abs(self.plus):g}" if self.plus else than
        return f"{self.reads} {self.op} {than}"

    def to_dict(self) -> dict:
        d = asdict(self)
        d["source"] = {"paper": self.source.where} if isinstance(self.source, Paper) else {"post_hoc": self.source.post_hoc}
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Claim":
        src = d["source"]
        source = Paper(src["paper"]) if "paper" in src else Ours(bool(src["post_hoc"]))
        return cls(**{**d, "source": source})


@dataclass
class Verdict:
    """A claim's verdict over seeds: ``state`` is ``holds``, ``fails`` or ``undecided``."""
    claim: Claim
    state: str
    margins: list[float] = field(default_factory=list)
    noise: float = math.nan
    why: str = ""
    unit: str = "seeds"  # what the margins are of: the seeds of the fast profile, or "runs" at the paper's scale

    @property
    def held(self) -> int:
        return sum(m > 0 for m in self.margins)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.margins) if self.margins else math.nan

    def words(self) -> str:
        """The verdict in plain words, with its seed count, to follow "the claim that …" in a sentence."""
        n = len(self.margins)
        if self.state == HOLDS:
            return f"holds in all {n} {self.unit}"
        if self.state == FAILS:
            return f"fails in all {n} {self.unit}"
        return f"is undecided: {self.why}"


def verdict(claim: Claim, seeds: list[dict], unit: str = "seeds") -> Verdict:
    """The verdict of ``claim`` from the recorded values of each seed's run, by :data:`RULE` (``unit``: what the runs
    are called in its words)."""
    margins = [m for m in (claim.margin(v) for v in seeds) if m is not None]
    if len(margins) < MIN_SEEDS:
        return Verdict(claim, UNDECIDED, margins, why=f"measured in {len(margins)} of the {MIN_SEEDS} {unit} it needs",
                       unit=unit)
    size = statistics.fmean(claim.size(v) for v in seeds if claim.margin(v) is not None)
    noise = max(statistics.stdev(margins), FLOOR * size, claim.resolution)
    mean = statistics.fmean(margins)
    held = sum(m > 0 for m in margins)
    if held == len(margins) and mean >= SPREADS * noise:
        return Verdict(claim, HOLDS, margins, noise, unit=unit)
    if held == 0 and -mean >= SPREADS * noise:
        return Verdict(claim, FAILS, margins, noise, unit=unit)
    if 0 < held < len(margins):
        why = f"it holds in {held} of {len(margins)} {unit}"
    else:
        why = (f"it {'holds' if held else 'fails'} in all {len(margins)} {unit}, but by less than "
               f"{SPREADS:g} times their spread")
    return Verdict(claim, UNDECIDED, margins, noise, why, unit)


def contradiction(v: Verdict, margin: float | None) -> str | None:
    """Why one more run (the book's, on any machine) contradicts a decided verdict, or None when it does not (nor for a
    claim that a variant decides: the book's run is not a run of that experiment).

    A run contradicts a verdict only when its margin lies on the other side of the threshold *and* outside the
    :data:`PREDICTION` prediction interval of the seeds' margins (Student's t with n − 1 degrees of freedom, the
    seeds' noise as its scale): one more draw of the same experiment lands there about once in a hundred claims
    at worst, while a sign flipped by a bug lands far beyond it.
    """
    if v.state == UNDECIDED or margin is None or v.claim.variant:  # a variant's claim: the book's run is not one of its
        return None
    n = len(v.margins)
    half_width = _t_quantile(0.5 + PREDICTION / 2, n - 1) * v.noise * math.sqrt(1 + 1 / n)
    sign = 1 if v.state == HOLDS else -1
    if sign * margin < 0 and abs(margin - v.mean) > half_width:
        return (f"{v.claim.id}: the seeds say it {v.state} (mean margin {v.mean:+.4g}, noise {v.noise:.3g}), but this "
                f"run's margin is {margin:+.4g}, outside the seeds' {PREDICTION:.0%} prediction interval "
                f"(± {half_width:.3g}): {v.claim.text}")
    return None


def _t_quantile(p: float, df: int) -> float:
    """Student's t quantile (scipy's, which the book's environment has)."""
    from scipy.stats import t

    return float(t.ppf(p, df))


# ---------------------------------------------------------------------------------------------- the seed record
# Library modules that neither compute nor choose a number (they present, record, store or schedule): a change
# to them does not make the seeds' values stale.
# (Not runtime.py: it chooses how the CPU rounds, by flushing denormal floats.)
NOT_NUMBERS = {"claims.py", "scorecard.py", "tables.py", "plot.py", "widgets.py", "results.py", "files.py", "cache.py",
               "papers.py"}
CLAIMS_TAG = "claims"  # the tag of a chapter's claims cell: editing a claim does not change its values


def _strip_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(getattr(body[0], "value", None), ast.Constant) and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
    return tree


def _is_glue(stmt: ast.stmt) -> bool:
    """``vb.glue(...)`` or ``vb.glue_parameters(...)``, or a loop of nothing else: words for the page, no number of
    the run."""
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        f = stmt.value.func
        return (isinstance(f, ast.Attribute) and f.attr in ("glue", "glue_parameters") and isinstance(f.value, ast.Name)
                and f.value.id == "vb")
    return isinstance(stmt, ast.For) and all(_is_glue(s) for s in stmt.body)


def _canonical(node) -> str:
    """An AST as text that is the same on every Python version: ``ast.dump`` adds fields in newer versions
    (``type_params`` in 3.12) or drops empty ones (3.13); empty fields are left out here."""
    if isinstance(node, ast.AST):
        fields = ", ".join(f"{name}={_canonical(value)}" for name, value in ast.iter_fields(node)
                           if value not in (None, []) and name != "kind" and name != "type_comment")
        return f"{type(node).__name__}({fields})"
    if isinstance(node, list):
        return "[" + ", ".join(_canonical(v) for v in node) + "]"
    return repr(node)


def _code_of_module(path: Path) -> str:
    """A module's code without its docstrings and comments: a reworded docstring changes no number."""
    return _canonical(_strip_docstrings(ast.parse(path.read_text())))


def _code_of_notebook(path: Path) -> str:
    """A notebook's code cells, except its claims cell, the Colab set-up and the glue of words to the page."""
    cells = json.loads(path.read_text())["cells"]
    code = []
    for cell in cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.get("cell_type") != "code" or CLAIMS_TAG in tags or "colab-setup" in tags:
            continue
        source = "".join(cell.get("source", ""))
        try:
            tree = ast.parse(source)
        except SyntaxError:
            code.append(source)
            continue
        tree.body = [stmt for stmt in tree.body if not _is_glue(stmt)]
        code.append(_canonical(tree))
    return "\n".join(code)


def _imports(tree: ast.AST, package: str = "vaebook") -> set[str]:
    """The vaebook modules a piece of code imports (``from . import x``, ``from .x import``, ``vaebook.x``)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1:  # relative, inside the package
                found |= {node.module.split(".")[0]} if node.module else {a.name for a in node.names}
            elif node.module and node.module.split(".")[0] == package:
                parts = node.module.split(".")
                found |= {parts[1]} if len(parts) > 1 else {a.name for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name.split(".")[1] for a in node.names if a.name.startswith(package + ".")}
    return found


def _reachable(library: Path, start: set[str]) -> list[Path]:
    """The library's modules that ``import vaebook`` and the chapter's own imports load, transitively."""
    seen, todo = set(), ["__init__", *start]
    while todo:
        name = todo.pop()
        path = library / f"{name}.py"
        if name in seen or not path.exists():
            continue
        seen.add(name)
        todo += sorted(_imports(ast.parse(path.read_text())) - seen)
    return sorted(library / f"{name}.py" for name in seen)


def fingerprint(notebook: Path, library: Path | None = None) -> str:
    """A hash of what makes a chapter's numbers: its code cells (less its claims cell and its glue), the code of
    every library module it can reach (less docstrings and the modules in :data:`NOT_NUMBERS`) and the bundled
    data. A module no chapter imports, or a reworded docstring, leaves it unchanged."""
    library = Path(library) if library is not None else Path(__file__).parent
    code = _code_of_notebook(Path(notebook))
    h = hashlib.sha256(code.encode())
    cells = [ast.parse(c) for c in _notebook_sources(Path(notebook))]
    for module in _reachable(library, set().union(*(_imports(t) for t in cells)) if cells else set()):
        if module.name not in NOT_NUMBERS:
            h.update(module.name.encode() + _code_of_module(module).encode())
    for data in sorted((library / "bundle").glob("*.npz")):
        h.update(data.name.encode() + hashlib.sha256(data.read_bytes()).digest())
    return h.hexdigest()[:16]


def _notebook_sources(path: Path) -> list[str]:
    sources = []
    for cell in json.loads(path.read_text())["cells"]:
        if cell.get("cell_type") == "code":
            try:
                ast.parse(source := "".join(cell.get("source", "")))
                sources.append(source)
            except SyntaxError:
                pass
    return sources


_MISSING = object()


def variant_parameters(variant: str) -> dict:
    """The parameters of a variant, ``"decoder=conv,ae_epochs=10"`` -> ``{"decoder": "conv", "ae_epochs": 10}`` (a
    value that reads as JSON is that value, anything else a string)."""
    parameters = {}
    for part in variant.split(","):
        name, eq, value = part.partition("=")
        if not eq or not name.strip().isidentifier() or not value.strip():
            raise ValueError(f"variant {variant!r}: write it as name=value[,name=value…], e.g. 'decoder=conv'")
        try:
            parameters[name.strip()] = json.loads(value)
        except json.JSONDecodeError:
            parameters[name.strip()] = value.strip()
    return parameters


def canonical_variant(variant: str) -> str:
    """The one spelling of a variant, which names its record: ``"decoder = conv"`` -> ``"decoder=conv"``."""
    return ",".join(f"{k}={v if isinstance(v, str) else json.dumps(v)}" for k, v in variant_parameters(variant).items())


def record_name(chapter: str, variant: str = "") -> str:
    """The name of a seed record: the chapter's own (``variant`` empty), or that of the chapter run with the variant's
    parameters, ``"05_probabilistic_autoencoder:decoder=conv"``."""
    return f"{chapter}:{variant}" if variant else chapter


class SeedRecordError(ValueError):
    """The committed seed record cannot be read: it names the file, the record and what is wrong, and the fix."""


def check_seed_file(path: Path | None = None) -> None:
    """Raise :class:`SeedRecordError`, naming the file and the fix, when any record of the seed file is malformed: a
    chapter calls it where its run starts (:func:`vaebook.set_profile`), so that a corrupt record stops it before
    anything is trained. Every record is checked, whichever chapter runs: a file with one malformed record is not the
    committed file, and each chapter's last cells read the records of others (the scorecard, chapter 8)."""
    path, chapters = _seed_blob(path)
    for name, record in chapters.items():  # one read of the file for all of them
        _checked(name, record, path)


def _seed_blob(path: Path | None) -> tuple[Path, dict]:
    """The seed file and its chapters' records, checked at the top level."""
    path = Path(path) if path is not None else SEEDS_FILE
    if not path.exists():
        return path, {}
    from .files import read_json

    try:
        blob = read_json(path)
        if not isinstance(blob, dict) or blob.get("format") != 2:
            raise ValueError("not a seed record of this version (format 2)")
        if not isinstance(chapters := blob.get("chapters", {}), dict):
            raise ValueError("its chapters are not a mapping of records")
    except ValueError as e:
        raise SeedRecordError(f"the seed record {path} is corrupt ({e}): restore the committed file (`git checkout -- "
                              f"{path}`), or delete it and run `make seeds` to make every record again") from None
    return path, chapters


def _check_record(record) -> None:
    """A seed record's shape: a mapping whose ``values`` are one mapping of names to numbers per run, and whose
    ``tables`` one mapping of quantities to numbers (or null) per run."""
    def numbers(runs, what, none=False):
        if not isinstance(runs, list):
            raise ValueError(f"its {what} are not a list of runs")
        for i, run in enumerate(runs):
            if not isinstance(run, dict):
                raise ValueError(f"its {what} of run {i + 1} are not a mapping of names to numbers")
            bad = [k for k, v in run.items() if not (isinstance(v, (int, float)) and not isinstance(v, bool)
                                                     or none and v is None)]
            if bad:
                raise ValueError(f"its {what} of run {i + 1} hold something other than a number under {bad[0]!r}")

    if not isinstance(record, dict):
        raise ValueError("it is not a record of seed runs")
    numbers(record.get("values", []), "values")
    numbers(record.get("tables", []), "tables", none=True)


def seed_record(chapter: str, path: Path | None = None) -> dict:
    """The committed seed runs of ``chapter`` (or of a variant of it, by :func:`record_name`): ``{"fingerprint",
    "commit", "date", "profile", "parameters", "values": [...]}``, empty when it has none. A malformed file or record
    raises :class:`SeedRecordError`, naming both."""
    path, chapters = _seed_blob(path)
    return _checked(chapter, chapters.get(chapter, {}), path)


def _checked(chapter: str, record, path: Path) -> dict:
    """``record``, the seed record of ``chapter`` in the file ``path``, once :func:`_check_record` passes it."""
    try:
        _check_record(record)
    except ValueError as e:
        raise SeedRecordError(f"the seed record {path} is corrupt: the record of {chapter!r}: {e}. Restore the "
                              f"committed file (`git checkout -- {path}`), or remove that record from it and run `make "
                              f"seeds CHAPTERS={chapter.split(':')[0]}`") from None
    return record


def seed_values(chapter: str, key: str, fmt: str = "{:.2f}", *, span: bool = False, path: Path | None = None) -> str:
    """One recorded value of ``chapter``'s seed runs as a page quotes it: each seed's, formatted by ``fmt`` and joined
    by commas ("0.59, 0.68, 0.37"), or with ``span`` the lowest and the highest ("41% to 63%"); "not yet run" while
    the chapter has no seed runs."""
    runs = seed_record(chapter, path).get("values", [])
    if not runs:
        return "not yet run"
    if any(key not in run for run in runs):
        raise KeyError(f"the seed runs of {chapter} record no value {key!r} (they record {sorted(runs[0])}): check the "
                       f"name, or run `make seeds CHAPTERS={chapter}` if the chapter records it now")
    values = [run[key] for run in runs]
    return " to ".join(fmt.format(f(values)) for f in (min, max)) if span else ", ".join(fmt.format(v) for v in values)


def seed_series(chapter: str, prefix: str, path: Path | None = None) -> list[list[tuple[float, float]]]:
    """A curve each seed run recorded point by point, as values named ``<prefix><x>`` (``ratio_trace_main_100`` for
    x = 100): per seed, its (x, value) pairs in the order of x. A run may stop its curve sooner than another, so the
    seeds' curves can differ in length; an empty list while the chapter has no seed runs."""
    runs = seed_record(chapter, path).get("values", [])
    keys = {k for run in runs for k in run if k.startswith(prefix)}
    if other := sorted(k for k in keys if not k[len(prefix):].replace(".", "", 1).isdigit()):
        raise KeyError(f"{other[0]!r} begins with {prefix!r} but is not a point of a curve (a number follows the "
                       f"prefix in each of its names): choose a prefix only the curve's values have")
    curves = [sorted((float(k[len(prefix):]), v) for k, v in run.items() if k in keys) for run in runs]
    if runs and not all(curves):
        raise KeyError(f"a seed run of {chapter} records no value named {prefix!r}…: check the prefix, or run "
                       f"`make seeds CHAPTERS={chapter.split(':')[0]}` if the chapter records it now")
    return curves


def seeds_describe(chapter: str, profile: str, parameters: dict, capped: bool, path: Path | None = None) -> bool:
    """Whether ``chapter``'s seed runs are runs of the experiment a run of ``profile`` with these ``parameters`` is (its
    seed aside), uncapped (``capped``: a dry run): only then may its table and the scorecard quote their means. A
    parameter edited in the parameters cell shows in ``parameters`` as much as one set through papermill."""
    record = seed_record(chapter, path)
    if not record.get("tables") or record.get("profile") != profile or capped or "parameters" not in record:
        return False
    ours = json.loads(json.dumps({k: v for k, v in parameters.items() if k != "seed"}, default=str))
    return ours == record["parameters"]


def seed_mean(chapter: str, quantity: str, path: Path | None = None) -> tuple[float, int] | None:
    """The mean over ``chapter``'s seed runs of one row of its reproduction table (by its ``quantity``), and the
    number of seeds; None unless every seed run has the row."""
    tables = seed_record(chapter, path).get("tables") or []
    over = [t[quantity] for t in tables if t.get(quantity) is not None]
    return (sum(over) / len(over), len(over)) if over and len(over) == len(tables) else None


def stale(chapter: str, notebook: Path, path: Path | None = None) -> str | None:
    """Why the committed seed runs of ``chapter`` (and of each variant its claims name) no longer describe its code, or
    None when they do."""
    code = fingerprint(notebook)  # hashes the library too: once, not once per record
    for variant in ["", *variants(notebook)]:
        name = record_name(chapter, variant)
        how = (f"python -m scripts.seeds --variant {variant} notebooks/{chapter}.ipynb" if variant else
               f"make seeds CHAPTERS={chapter}")
        record = seed_record(name, path)
        if not record:
            return f"{name} has no seed runs: run `{how}`"
        if record.get("fingerprint") != code:
            return (f"the seed runs of {name} were made with other code (fingerprint {record.get('fingerprint')}, now "
                    f"{code}): run `{how}` and commit vaebook/bundle/seeds.json")
        if variant and any(record.get("parameters", {}).get(k) != v for k, v in variant_parameters(variant).items()):
            return f"the seed runs of {name} ran with other parameters ({record.get('parameters')}): run `{how}`"
    return None


def variants(notebook: Path) -> list[str]:
    """The variants that decide some of a chapter's claims (``Claim.variant``); none for a chapter without claims."""
    return sorted({c.variant for c in from_notebook(notebook) if c.variant}) if _has_claims(notebook) else []


def _has_claims(notebook: Path) -> bool:
    return any(CLAIMS_TAG in c.get("metadata", {}).get("tags", [])
               for c in json.loads(Path(notebook).read_text())["cells"])


def verdicts(chapter: str, claims, path: Path | None = None) -> list[Verdict]:
    """Each claim's verdict from the committed seed runs of ``chapter``, or of the variant that decides it."""
    seeds = {}
    for c in (claims := _claims(claims)):
        if (name := record_name(chapter, c.variant)) not in seeds:
            seeds[name] = seed_record(name, path).get("values", [])
    return [verdict(c, seeds[record_name(chapter, c.variant)]) for c in claims]


def _claims(claims) -> list[Claim]:
    claims = list(claims.values()) if isinstance(claims, dict) else list(claims)
    ids = [c.id for c in claims]
    if len(set(ids)) != len(ids):
        raise ValueError(f"claim ids repeat: {sorted({i for i in ids if ids.count(i) > 1})}")
    return claims


# ---------------------------------------------------------------------------------------------- the paper's scale
PAPER_SCALE_FORMAT = 1  # the results format of vaebook.paper_scale


@dataclass(frozen=True)
class ScaleRuns:
    """One experiment of one paper-scale results file: its runs' recorded values of a chapter (one dict per run, as a
    seed run's), and where and how they were measured."""
    experiment: str
    runs: list[dict]
    epochs: dict
    about: dict  # device, device_name, torch, commit, date (the file's provenance)
    file: str
    n_train: int | None = None  # training images of its largest model

    def words(self) -> str:
        """"3 runs of 200 epochs on 54,051 training images, on a CPU (x86_64), torch 2.13.0, 2026-12-07", as a page says
        it (the commit that ran it is in the file, not on the page)."""
        n, epochs, a = len(self.runs), max(self.epochs.values(), default=0), self.about
        device = "a GPU" if a.get("device") == "cuda" else f"a {str(a.get('device') or 'unknown device').upper()}"
        images = f" on {self.n_train:,} training images" if self.n_train else ""
        return (f"{n} run{'s' * (n != 1)} of {epochs} epochs{images}, on {device} ({a.get('device_name')}), torch "
                f"{a.get('torch')}, {str(a.get('date') or '')[:10]}")


def _paper_scale_files(path: Path | None) -> list[Path]:
    path = Path(path) if path is not None else PAPER_SCALE
    return sorted(path.glob("*.json")) if path.is_dir() else [path] if path.exists() else []


def _scale_runs(file: Path, chapter: str) -> list[ScaleRuns]:
    """The experiments of one results file that measured ``chapter`` at the paper's scale (none for a smoke run's file,
    or for an experiment that did not finish); a file not of :mod:`vaebook.paper_scale`'s format is an error."""
    from .files import read_json

    try:
        results = read_json(file)
        if not isinstance(results, dict) or results.get("format") != PAPER_SCALE_FORMAT:
            raise ValueError(f"not a results file of vaebook.paper_scale (format {PAPER_SCALE_FORMAT})")
        prov, experiments = results.get("provenance"), results.get("experiments")
        if not isinstance(prov, dict) or not isinstance(experiments, dict):
            raise ValueError("no provenance or experiments")
        # at the paper's scale on a GPU or a CPU (the device changes the time, not the numbers); never a smoke run's
        if results.get("paper_scale") is not True or prov.get("smoke") is not False:
            return []
        out = []
        for name, exp in experiments.items():
            if not isinstance(exp, dict) or exp.get("status") != "done":
                continue
            values = exp["values"].get(chapter, {})
            if not values:
                continue
            n = exp["runs"]
            if any(len(v["per_run"]) != n for v in values.values()):
                raise ValueError(f"experiment {name!r} records other than its {n} runs")
            runs = [{key: float(v["per_run"][i]) for key, v in values.items()} for i in range(n)]
            n_train = exp.get("n_train")
            n_train = max(n_train.values()) if isinstance(n_train, dict) and n_train else n_train
            out.append(ScaleRuns(name, runs, dict(exp["epochs"]), {k: prov.get(k) for k in
                                 ("device", "device_name", "torch", "commit", "date")}, file.name,
                                 int(n_train) if isinstance(n_train, (int, float)) else None))
        return out
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise ValueError(f"the paper-scale results {file} are corrupt ({type(e).__name__}: {e}): run "
                         "`python -m vaebook.paper_scale` again, or remove the file") from None


def paper_scale_runs(chapter: str, path: Path | None = None) -> list[ScaleRuns]:
    """Every experiment that measured ``chapter`` at the paper's scale (:mod:`vaebook.paper_scale`), newest first by
    the date of its file: from the results file ``path``, or from every file of the folder (default
    :data:`PAPER_SCALE`, the committed runs). Runs of different experiments are never mixed: each was its own
    training."""
    found = [r for f in _paper_scale_files(path) for r in _scale_runs(f, chapter)]
    return sorted(found, key=lambda r: str(r.about.get("date") or ""), reverse=True)


def _runs_for(claim: Claim, groups: list[ScaleRuns]) -> ScaleRuns | None:
    """The newest experiment whose runs record everything ``claim`` reads."""
    if claim.variant:  # decided by its variant's runs only
        return None
    return next((g for g in groups if all(claim.margin(r) is not None for r in g.runs)), None)


def paper_scale_verdicts(chapter: str, claims, path: Path | None = None) -> dict[str, Verdict]:
    """The verdict at the paper's scale of each claim of ``chapter`` that an experiment there measured, by id: from
    the runs of the newest experiment that records all it reads, by the seeds' rule (:func:`verdict`)."""
    groups = paper_scale_runs(chapter, path)
    return {c.id: verdict(c, g.runs, "runs") for c in _claims(claims) if (g := _runs_for(c, groups))}


def paper_scale_about(chapter: str, claims, path: Path | None = None) -> str:
    """Where and how the runs behind ``chapter``'s verdicts at the paper's scale were measured, in words; empty when
    there are none."""
    groups = paper_scale_runs(chapter, path)
    used = {id(g): g for c in _claims(claims) if (g := _runs_for(c, groups))}
    return "; ".join(g.words() for g in used.values())


def paper_scale_words(chapter: str, claims, claim_id: str, fmt: str = "{:.2f}", path: Path | None = None) -> str:
    """What the runs at the paper's scale say of one claim, to follow "the claim that …" in a sentence: its verdict
    there and the value it reads in each run ("holds in all 3 runs (0.61, 0.64, 0.66)"; for a
    claim that compares two recorded values, both: "0.61 against 0.10, …"), or that none measured it."""
    claim = next(c for c in _claims(claims) if c.id == claim_id)
    g = _runs_for(claim, paper_scale_runs(chapter, path))
    if g is None:
        return "has not been measured at the paper's scale"
    v = verdict(claim, g.runs, "runs")
    if isinstance(claim.than, str):  # a comparison of two values: both, run by run
        values = ", ".join(f"{fmt.format(r[claim.reads])} against {fmt.format(r[claim.than])}" for r in g.runs)
    else:
        values = ", ".join(fmt.format(r[claim.reads]) for r in g.runs)
    return f"{v.words()} ({values})"


def from_notebook(notebook: Path) -> list[Claim]:
    """The claims a chapter declares: its parameters cell and its claims cells (one, or several in page order when
    the claims are grouped), run without the experiment."""
    cells = json.loads(Path(notebook).read_text())["cells"]
    tagged = {tag: [] for tag in ("parameters", CLAIMS_TAG)}
    for c in cells:
        for tag in c.get("metadata", {}).get("tags", []):
            if tag in tagged:
                tagged[tag].append("".join(c["source"]))
    if not tagged[CLAIMS_TAG]:
        raise ValueError(f"{notebook} has no cell tagged {CLAIMS_TAG!r} that declares its CLAIMS")
    import vaebook

    namespace = {"vb": vaebook}
    exec(compile("\n".join(tagged["parameters"]), f"{notebook}:parameters", "exec"), namespace)
    lines = "\n".join(tagged[CLAIMS_TAG]).splitlines()  # the declaration ends where the verdicts are read ("V = ...")
    claims_code = "\n".join(lines[:next((i for i, line in enumerate(lines) if line.startswith("V = ")), len(lines))])
    exec(compile(claims_code, f"{notebook}:claims", "exec"), namespace)
    return _claims(namespace["CLAIMS"])


_NUMBER_WORDS = dict(enumerate(("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")))


def number_words(n: int) -> str:
    """A count as a page writes it: "three" up to ten, then digits ("1,000")."""
    return _NUMBER_WORDS.get(n, f"{n:,}")


def glue(prefix: str, verdicts: dict) -> None:
    """Make each verdict's words available to the page as ``{prefix}_verdict_{id}``, a count of them all as
    ``{prefix}_verdicts`` ("of its 7 claims, 4 hold, 1 fails and 2 are undecided"), and the number of seeds they
    were decided over, in words, as ``{prefix}_seeds`` ("three")."""
    from .results import glue as _glue

    for v in verdicts.values():
        _glue(f"{prefix}_verdict_{v.claim.id}", v.words())
    seeds = max((len(v.margins) for v in verdicts.values() if not v.claim.variant), default=0)  # the chapter's own
    _glue(f"{prefix}_seeds", number_words(seeds))
    n = len(verdicts)
    counts = [(sum(v.state == s for v in verdicts.values()), s) for s in (HOLDS, FAILS, UNDECIDED)]
    words = {HOLDS: ("holds", "hold"), FAILS: ("fails", "fail"), UNDECIDED: ("is undecided", "are undecided")}
    parts = [f"{k} {words[s][k != 1]}" for k, s in counts if k]
    _glue(f"{prefix}_verdicts", f"of its {n} claims, " + (", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1
                                                          else parts[0] if parts else "none is decided"))


def status(verdicts: list[Verdict]) -> str:
    """A scope-table status for a paper's experiment from the verdicts of the claims that test it."""
    n = len(verdicts)
    counts = {state: sum(v.state == state for v in verdicts) for state in (HOLDS, FAILS, UNDECIDED)}
    if n and counts[HOLDS] == n:
        return "reproduced"
    if n and counts[FAILS] == n:
        return "against the paper"
    if n and counts[UNDECIDED] == n:
        return "undecided over seeds"
    words = {HOLDS: ("holds", "hold"), FAILS: ("fails", "fail"), UNDECIDED: ("is undecided", "are undecided")}
    parts = [f"{k} {words[state][k != 1]}" for state, k in counts.items() if k]
    lead = "in part" if counts[HOLDS] else "not reproduced"  # "in part" only where something holds
    return f"{lead}: of {n} claims, " + ", ".join(parts)


def table(chapter: str, claims, values: dict | None = None, path: Path | None = None,
          paper_scale_path: Path | None = None):
    """The chapter's claims with their verdicts over seeds (and this run's margin), as a table for the page; where
    runs at the paper's scale measured a claim (:func:`paper_scale_verdicts`), its verdict there too."""
    import pandas as pd

    from .tables import CAPTION_STYLE, number_text

    from .profiles import run_parameters

    record = seed_record(chapter, path)
    at_scale = paper_scale_verdicts(chapter, claims, paper_scale_path)
    changed = run_parameters()["changed"]  # a run with other parameters than the chapter's own says so by its margins
    margin_column = "this run's margin" + (" (a run with " + ", ".join(f"{k} = {v}" for k, v in changed.items()) + ")"
                                           if changed else "")

    def this_run(c: Claim) -> bool:  # a variant's claim is measured by this run only if this run is the variant
        return not c.variant or all(changed.get(k, _MISSING) == v for k, v in variant_parameters(c.variant).items())

    rows = []
    for v in verdicts(chapter, claims, path):
        c = v.claim
        row = {"claim": c.text, "threshold from": str(c.source),
               "seeds holding": f"{v.held} of {len(v.margins)}" if v.margins else "—",
               "mean margin ± noise": f"{number_text(v.mean)} ± {number_text(v.noise)}" if v.margins else "—",
               "verdict": v.state + (" (known failure)" if c.known_failure and v.state != HOLDS else "")}
        if values is not None:
            m = c.margin(values) if this_run(c) else None
            row[margin_column] = (f"another experiment ({c.variant})" if not this_run(c) else
                                  number_text(m) if m is not None else "not measured")
        if at_scale:
            p = at_scale.get(c.id)
            row["at the paper's scale"] = f"{p.state} ({p.held} of {len(p.margins)} runs)" if p else "not run"
        rows.append(row)
    if record:
        caption = (f"{len(record.get('values', []))} seeds of the {record.get('profile', 'fast')} profile. " +
                   RULE.replace("**", ""))
    else:
        caption = "These claims have not been run over seeds yet: every verdict is undecided."
    if variants := sorted({c.variant for c in _claims(claims) if c.variant}):
        caption += (" A claim of a variant is decided by the seed runs of the chapter run with its parameters ("
                    + "; ".join(variants) + "), by the same rule.")
    if at_scale:
        caption += f" At the paper's scale, by the same rule: {paper_scale_about(chapter, claims, paper_scale_path)}."
    return (pd.DataFrame(rows).style.hide(axis="index").set_caption(caption)
            .set_table_styles([CAPTION_STYLE, {"selector": "td, th", "props": "font-size: 0.85em; padding: 2px 6px"}]))
