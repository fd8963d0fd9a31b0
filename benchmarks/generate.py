"""Seeded synthetic partnership case data, for benchmarks only.

Writes every case-data table (the same CSV files ``kg build --data`` reads) for many
synthetic partnerships across synthetic jurisdictions, with their member organisations,
memberships, classifications on the comparison dimensions (stated, or derived by a rule),
stated aims and observed drivers, outcome evidence, indicators, evaluations with their
findings, system context, timeline events, conflicts between sources and changes. Everything is marked as
synthetic *in the data*: every label starts with "Synthetic", every row's note is
"synthetic", and every row cites a source whose citation reads "Synthetic benchmark data —
not real". The same seed and size give the same bytes.

    python benchmarks/generate.py --size 100k            # -> benchmarks/work/100k/data/
    python benchmarks/generate.py --triples 2000 --out /tmp/case --seed 7

Sizes are calibrated so that the mapped data graph has about that many triples.
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:  # run as a script from a checkout
    sys.path.insert(0, str(ROOT))

from kg.casedata import DIMENSION_SCHEMES, OUTCOME_SCHEMES, TABLES  # noqa: E402
from kg.settings import resource_dir  # noqa: E402
from kg.vocabulary import load_vocabulary  # noqa: E402

FORM_DIMENSIONS = ("budget-integration", "provider-payment", "sectors", "legal-basis", "statutory-status")
SIZES = {"2k": 2_000, "10k": 10_000, "100k": 100_000, "1m": 1_000_000}
WORK = HERE / "work"
NOTE = "synthetic"
TRIPLES_PER_PARTNERSHIP = 215  # measured: data-graph triples per partnership, all tables included
FIXED_TRIPLES = 4850  # jurisdictions (with their context), forms (with their classifications), legislation, designs

WORDS = ("north", "south", "east", "west", "river", "valley", "coast", "moor", "vale", "bridge",
         "forest", "harbour", "city", "downs", "heath", "lakes", "marsh", "ridge", "shire", "weald")
AIMS = ("Better outcomes for service users", "Less duplication between health and social care",
        "Fewer delayed discharges from hospital", "Care closer to home", "A single point of access",
        "Shared budgets for older people's services")
DRIVERS = ("Structural reorganisation pursued for its own sake", "Financial pressure on both partners",
           "A national performance regime", "Local leaders' personal relationships",
           "Pressure to merge back-office functions")


def _vocabulary() -> dict[str, list[str]]:
    vocabulary = load_vocabulary(resource_dir("ontology"))
    return {scheme: sorted(slugs) for scheme, slugs in vocabulary.slugs.items()}


class _Generator:
    def __init__(self, triples: int, seed: int):
        self.rnd = random.Random(seed)
        self.v = _vocabulary()
        self.n = max(2, round((triples - FIXED_TRIPLES) / TRIPLES_PER_PARTNERSHIP))
        self.tables: dict[str, list[dict]] = {name: [] for name in TABLES}

    # -- small pieces ------------------------------------------------------------------

    def pick(self, seq):
        return seq[self.rnd.randrange(len(seq))]

    def claim(self, sources: list[str]) -> dict:
        k = 1 + (self.rnd.random() < 0.2)
        chosen = sorted({self.pick(sources) for _ in range(k)})
        return {"source": ";".join(chosen), "confidence": self.pick(self.v["confidence"]), "note": NOTE}

    def date(self, lo: int, hi: int) -> tuple[str, tuple]:
        year = self.rnd.randint(lo, hi)
        r = self.rnd.random()
        if r < 0.4:
            return f"{year:04d}", (year, 1, 1)
        month = self.rnd.randint(1, 12)
        if r < 0.7:
            return f"{year:04d}-{month:02d}", (year, month, 1)
        day = self.rnd.randint(1, 28)
        return f"{year:04d}-{month:02d}-{day:02d}", (year, month, day)

    def period(self, lo: int = 1995, hi: int = 2020, p_end: float = 0.35) -> dict:
        start, start_key = self.date(lo, hi)
        out = {"start": start, "end": ""}
        if self.rnd.random() < p_end:
            end_year = min(hi + 5, start_key[0] + self.rnd.randint(1, 8))
            out["end"] = f"{end_year:04d}"
        return out

    def classification(self, sources: list[str], basis: str | None = None) -> dict:
        """basis, rule, source, confidence, note: a derived row is at most partial and names its rule."""
        basis = basis or ("derived" if self.rnd.random() < 0.5 else "stated")
        claim = self.claim(sources)
        if basis == "derived":
            claim["confidence"] = self.pick(["partial", "unverified"])
        return {"basis": basis, "rule": "synthetic rule applied to the source's facts" if basis == "derived" else "",
                **claim}

    def values(self, dimension: str) -> str:
        scheme = self.v[DIMENSION_SCHEMES[dimension]]
        k = 1 + (self.rnd.random() < 0.4) if dimension == "sectors" else 1
        return ";".join(sorted({self.pick(scheme) for _ in range(k + (dimension == "sectors"))}))

    def name(self, i: int) -> str:
        return f"{self.pick(WORDS).title()} {self.pick(WORDS)} {i}"

    # -- tables -------------------------------------------------------------------------

    def run(self) -> dict[str, list[dict]]:
        t, rnd, n = self.tables, self.rnd, self.n
        n_sources = max(3, n // 4)
        sources = [f"synthetic-source-{i}" for i in range(n_sources)]
        kinds = [k for k in ("article", "report", "web-page", "book", "dataset", "thesis")]
        for i, sid in enumerate(sources):
            t["sources"].append({
                "id": sid, "kind": self.pick(kinds),
                "citation": f"Synthetic benchmark data — not real (source {i})",
                "year": str(rnd.randint(1995, 2022)) if rnd.random() < 0.8 else "",
                "url": f"https://example.org/synthetic/source/{i}" if rnd.random() < 0.5 else "",
                "doi": f"10.5555/synthetic.{i}" if rnd.random() < 0.3 else "",
                "confidence": self.pick(self.v["confidence"]), "note": NOTE})

        # jurisdictions: a few synthetic countries with regions
        countries = [f"synthetic-country-{c}" for c in range(6)]
        jurisdictions = []
        for c, cid in enumerate(countries):
            t["jurisdictions"].append({"id": cid, "label": f"Synthetic country {c}", "iso_code": f"X{chr(65 + c)}",
                                       "parent": "", "wikidata": "", **self.claim(sources)})
            jurisdictions.append(cid)
            for r in range(4):
                rid = f"{cid}-region-{r}"
                t["jurisdictions"].append({"id": rid, "label": f"Synthetic region {r} of country {c}",
                                           "iso_code": f"X{chr(65 + c)}-R{r}", "parent": cid, "wikidata": "",
                                           **self.claim(sources)})
                jurisdictions.append(rid)

        laws = []
        for i in range(24):
            lid = f"synthetic-act-{i}"
            laws.append(lid)
            t["legislation"].append({"id": lid, "label": f"Synthetic Act {1990 + i}, section {i + 1}",
                                     "iri": f"https://example.org/synthetic/legislation/{i}" if i % 3 else "",
                                     "jurisdiction": self.pick(jurisdictions), "date": self.date(1990, 2015)[0],
                                     **self.claim(sources)})
        forms = []
        for i in range(40):
            fid = f"synthetic-form-{i}"
            forms.append((fid, i % 3 != 0))
            t["forms"].append({"id": fid, "label": f"Synthetic partnership form {i}",
                               "definition": f"Synthetic definition of partnership form {i}.",
                               "jurisdiction": self.pick(jurisdictions),
                               "legislation": ";".join(sorted({self.pick(laws) for _ in range(1 + i % 2)})),
                               "broader": f"synthetic-form-{i % 5}" if i >= 5 else "",
                               "legal_entity": "yes" if i % 3 != 0 else "no",
                               "native_label": f"Synthetic native name {i}" if i % 2 else "",
                               "start": self.date(1990, 2015)[0], **self.claim(sources)})
            for dimension in FORM_DIMENSIONS:
                t["observations"].append({"id": f"{fid}-{dimension}", "partnership": "", "form": fid,
                                          "dimension": dimension, "value": self.values(dimension),
                                          "start": "", "end": "", "observer": "", **self.classification(sources)})
        for j, jid in enumerate(jurisdictions):
            for k, topic in enumerate(self.v["context-topic"]):
                t["contexts"].append({"id": f"{jid}-context-{k}", "jurisdiction": jid, "topic": topic,
                                      "level": self.pick(self.v["government-level"]),
                                      "statement": f"Synthetic context fact {k} of jurisdiction {j}.",
                                      "start": "", "end": "", **self.claim(sources)})

        organisations = []
        for i in range(max(4, 2 * n)):
            oid = f"synthetic-org-{i}"
            organisations.append(oid)
            sectors = sorted({self.pick(self.v["sector"]) for _ in range(1 + (rnd.random() < 0.3))})
            t["organisations"].append({
                "id": oid, "label": f"Synthetic organisation {self.name(i)}",
                "alt_labels": f"Synthetic org {i}" if rnd.random() < 0.3 else "",
                "sector": ";".join(sectors), "jurisdiction": self.pick(jurisdictions),
                **self.period(1980, 2015, 0.2),
                "homepage": f"https://example.org/synthetic/org/{i}" if rnd.random() < 0.3 else "",
                **self.claim(sources)})

        designs = []
        for i in range(10):
            did = f"synthetic-design-{i}"
            designs.append(did)
            t["evaluation-designs"].append({
                "id": did, "label": f"Synthetic evaluation design {i}", "alt_labels": f"Synthetic toolkit {i}",
                "description": "A synthetic evaluation design.", "developer": self.pick(organisations),
                "year": str(2000 + i), "purpose": self.pick(["formative", "summative", "formative;summative"]),
                "dimension": self.pick(["process", "outcome", "outcome;process"]),
                "revision_of": f"synthetic-design-{i - 1}" if i % 4 == 3 else "",
                "homepage": "", **self.claim(sources)})
            for k in range(2):
                t["instruments"].append({
                    "id": f"{did}-instrument-{k}", "design": did, "label": f"Synthetic instrument {k} of design {i}",
                    "description": "A synthetic survey.", "respondents": self.v["respondent-group"][k % len(self.v["respondent-group"])],
                    "stage": str(k + 1), "method": "online survey", **self.claim(sources)})

        partnerships = []
        memberships = t["memberships"]
        for i in range(n):
            pid = f"synthetic-partnership-{i}"
            partnerships.append(pid)
            form, legal = self.pick(forms)
            period = self.period(1998, 2022, 0.3)
            t["partnerships"].append({
                "id": pid, "label": f"Synthetic partnership {self.name(i)}",
                "alt_labels": f"Synthetic P{i}" if rnd.random() < 0.25 else "",
                "form": form, "jurisdiction": self.pick(jurisdictions), "legal_entity": "yes" if legal else "no",
                **period, "description": f"A synthetic partnership number {i}." if rnd.random() < 0.6 else "",
                "homepage": f"https://example.org/synthetic/partnership/{i}" if rnd.random() < 0.3 else "",
                **self.claim(sources)})
            for k, org in enumerate(sorted({self.pick(organisations) for _ in range(4)})):
                memberships.append({"id": f"{pid}-member-{k}", "partnership": pid, "organisation": org,
                                    "role": self.pick(self.v["role"]), **self.period(1998, 2022, 0.3),
                                    **self.claim(sources)})
            dimensions = ("governance-mode", "frame", self.pick(["integration-level", "integration-dimension"]),
                          self.pick(FORM_DIMENSIONS))
            for k, dimension in enumerate(dimensions):
                t["observations"].append({
                    "id": f"{pid}-observation-{k}", "partnership": pid, "form": "", "dimension": dimension,
                    "value": self.values(dimension), **self.period(1998, 2022, 0.3),
                    "observer": "synthetic observer" if rnd.random() < 0.5 else "", **self.classification(sources)})
            for k, kind in enumerate(("stated-aim", "observed-driver")):
                domain = ""
                if rnd.random() < 0.6:
                    scheme = self.pick(OUTCOME_SCHEMES)
                    domain = f"{scheme}:{self.pick(self.v[scheme])}"
                t["statements"].append({
                    "id": f"{pid}-statement-{k}", "partnership": pid, "form": "", "kind": kind,
                    "statement": f"Synthetic: {self.pick(AIMS if kind == 'stated-aim' else DRIVERS)}.",
                    "domain": domain, "frame": self.pick(self.v["frame"]) if rnd.random() < 0.4 else "",
                    **self.claim(sources)})
            evaluation = ""
            if rnd.random() < 0.35:
                evaluation = f"{pid}-evaluation"
                t["evaluations"].append({
                    "id": evaluation, "label": f"Synthetic evaluation of partnership {i}",
                    "partnership": pid, "form": form if rnd.random() < 0.2 else "", "jurisdiction": "",
                    "study_design": self.pick(self.v["study-design"]),
                    "evaluator": self.pick(self.v["evaluator"]) if rnd.random() < 0.8 else "",
                    "population": "Synthetic population", "year": str(rnd.randint(2005, 2022)),
                    "toolkit": self.pick(designs) if rnd.random() < 0.3 else "",
                    **self.period(2005, 2020, 0.8), **self.claim(sources)})
                for k in range(1 + rnd.randrange(3)):
                    t["findings"].append({
                        "id": f"{evaluation}-finding-{k}", "evaluation": evaluation,
                        "outcome": self.pick(self.v["outcome-measure"]), "direction": self.pick(self.v["direction"]),
                        "measure": "Synthetic finding.", "magnitude": f"{rnd.randint(-40, 40)}%" if rnd.random() < 0.5 else "",
                        "domain": "", "start": "", "end": "", **self.claim(sources)})
            scheme = self.pick(OUTCOME_SCHEMES)
            t["outcomes"].append({
                "id": f"{pid}-outcome", "partnership": pid, "form": "",
                "domain": f"{scheme}:{self.pick(self.v[scheme])}", "direction": self.pick(self.v["direction"]),
                "measure": "Synthetic measure", "method": self.pick(["survey", "case study", "audit", ""]),
                **self.period(2000, 2020, 0.6), "evaluation": evaluation, **self.claim(sources)})
            for k in range(2):
                indicator = self.pick(self.v["indicator"])
                unit = {"budget": "gbp", "population-covered": "people"}.get(indicator, "organisations")
                t["indicators"].append({
                    "id": f"{pid}-indicator-{k}", "partnership": pid, "form": "", "jurisdiction": "",
                    "indicator": indicator, "value": str(rnd.randint(1, 5_000_000)), "unit": unit,
                    "period": f"{rnd.randint(2005, 2020)}", "approximate": self.pick(["yes", "no", ""]),
                    **self.claim(sources)})
            if rnd.random() < 0.05:
                t["conflicts"].append({"id": f"{pid}-conflict", "label": f"Synthetic conflict about partnership {i}",
                                       "claims": f"indicators:{pid}-indicator-0;indicators:{pid}-indicator-1",
                                       **self.claim(sources)})
            if rnd.random() < 0.1:
                t["events"].append({"id": f"{pid}-event", "jurisdiction": self.pick(jurisdictions),
                                    "date": self.date(1995, 2022)[0], "end": "", "kind": self.pick(self.v["event-kind"]),
                                    "label": f"Synthetic event about partnership {i}", "partnership": pid,
                                    "form": "", "legislation": "", **self.claim(sources)})
            if rnd.random() < 0.1 and i > 0:
                t["changes"].append({
                    "id": f"{pid}-change", "kind": self.pick(self.v["change-kind"]), "date": self.date(2000, 2022)[0],
                    "original": self.pick(partnerships[:-1]), "resulting": pid,
                    "label": f"Synthetic change to partnership {i}", **self.claim(sources)})
        # a few claims about forms and jurisdictions, as the real data has
        for k in range(max(2, n // 50)):
            fid = self.pick(forms)[0]
            t["observations"].append({"id": f"synthetic-form-observation-{k}", "partnership": "", "form": fid,
                                      "dimension": "frame", "value": self.pick(self.v["frame"]),
                                      "start": "", "end": "", "observer": "", **self.classification(sources)})
            t["indicators"].append({"id": f"synthetic-jurisdiction-indicator-{k}", "partnership": "", "form": "",
                                    "jurisdiction": self.pick(jurisdictions), "indicator": "budget",
                                    "value": f"{rnd.randint(1, 10**9)}.5", "unit": "gbp", "period": "2015/16",
                                    **self.claim(sources)})
        return t


def generate(out: Path, triples: int, seed: int = 1) -> Path:
    """Write the synthetic tables into ``out`` (created); return it."""
    tables = _Generator(triples, seed).run()
    out.mkdir(parents=True, exist_ok=True)
    for name, table in TABLES.items():
        columns = [c.name for c in table.columns]
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n", extrasaction="raise")
        writer.writeheader()
        for row in tables[name]:
            writer.writerow({c: row.get(c, "") for c in columns})
        (out / table.filename).write_bytes(buffer.getvalue().encode("utf-8"))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--size", choices=sorted(SIZES), default="10k", help="about this many data triples")
    group.add_argument("--triples", type=int, help="about this many data triples (any number)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, help="folder to write (default benchmarks/work/SIZE/data)")
    args = parser.parse_args(argv)
    triples = args.triples or SIZES[args.size]
    out = args.out or WORK / (args.size if not args.triples else f"{args.triples}") / "data"
    generate(out, triples, args.seed)
    print(f"wrote synthetic case data for about {triples:,} triples to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
