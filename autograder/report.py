"""Grades CSV (nbgrader's export) and an item analysis page: which exercise did the class fail?"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass
from pathlib import Path

from autograder.nbgrader_tools import run_nbgrader


@dataclass
class Item:
    """One graded test cell across the class."""

    notebook: str
    grade_id: str
    max_score: float
    scores: list[float]

    @property
    def pass_rate(self) -> float:
        return (
            sum(s >= self.max_score for s in self.scores) / len(self.scores) if self.scores else 0
        )

    @property
    def mean(self) -> float:
        return sum(self.scores) / len(self.scores) if self.scores else 0.0


def item_analysis(db_url: str, assignment: str) -> tuple[list[Item], dict[str, float], float]:
    """Per test cell scores, total score per student, and the assignment's maximum."""
    from nbgrader.api import Gradebook

    items: dict[tuple[str, str], Item] = {}
    totals: dict[str, float] = {}
    with Gradebook(db_url) as gb:
        max_total = gb.find_assignment(assignment).max_score
        for sub in gb.assignment_submissions(assignment):
            totals[sub.student.id] = sub.score
            for nb in sub.notebooks:
                for grade in nb.grades:
                    if grade.cell.cell_type != "code":
                        continue
                    key = (nb.name, grade.name)
                    item = items.setdefault(key, Item(nb.name, grade.name, grade.max_score, []))
                    item.scores.append(grade.score)
    return sorted(items.values(), key=lambda i: (i.notebook, i.grade_id)), totals, max_total


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode()


def figures(items: list[Item], totals: dict[str, float], max_total: float) -> list[str]:
    """Two PNGs (base64): pass rate per test cell, and the histogram of total scores."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = []
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(items) + 1.2))
    rates = [100 * i.pass_rate for i in items]
    ax.barh(
        [i.grade_id for i in items],
        rates,
        color=["#c0392b" if r < 50 else "#2e86c1" for r in rates],
    )
    ax.set_xlim(0, 100)
    ax.set_xlabel("students with full marks on the cell (%)")
    ax.set_title("Pass rate per test cell")
    ax.invert_yaxis()
    out.append(_png(fig))
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.hist(
        list(totals.values()),
        bins=min(20, max(5, int(max_total) + 1)),
        range=(0, max_total),
        color="#2e86c1",
        edgecolor="white",
    )
    ax.set_xlabel(f"total score (max {max_total:g})")
    ax.set_ylabel("students")
    ax.set_title("Score distribution")
    out.append(_png(fig))
    plt.close(fig)
    return out


def render_html(
    assignment: str, items: list[Item], totals: dict[str, float], max_total: float
) -> str:
    pass_fig, hist_fig = figures(items, totals, max_total)
    rows = "\n".join(
        f"<tr><td>{html.escape(i.notebook)}</td><td>{html.escape(i.grade_id)}</td>"
        f"<td>{i.max_score:g}</td><td>{i.mean:.2f}</td><td>{100 * i.pass_rate:.0f}%</td></tr>"
        for i in sorted(items, key=lambda i: i.pass_rate)
    )
    mean = sum(totals.values()) / len(totals) if totals else 0
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{html.escape(assignment)}: item analysis</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:.3em .6em;text-align:right}}
td:nth-child(-n+2){{text-align:left}}</style></head><body>
<h1>{html.escape(assignment)}: item analysis</h1>
<p>{len(totals)} students; mean score {mean:.2f} of {max_total:g}.
Test cells sorted from the least to the most often passed: the first rows are what the class
found hardest.</p>
<table><tr><th>notebook</th><th>test cell</th><th>points</th><th>mean</th><th>full marks</th></tr>
{rows}</table>
<h2>Pass rate per test cell</h2>
<img alt="pass rate per test cell" src="data:image/png;base64,{pass_fig}">
<h2>Score distribution</h2>
<img alt="histogram of total scores" src="data:image/png;base64,{hist_fig}">
</body></html>
"""


def report(
    root: Path, assignment: str, out_dir: Path, db_url: str | None = None
) -> tuple[Path, Path]:
    """Write grades.csv (via ``nbgrader export``) and report.html; return both paths."""
    root = root.resolve()
    db_url = db_url or f"sqlite:///{root / 'gradebook.db'}"
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path = out_dir.resolve() / "grades.csv"
    run_nbgrader("export", "--to", str(csv_path), f"--CourseDirectory.db_url={db_url}", cwd=root)
    items, totals, max_total = item_analysis(db_url, assignment)
    html_path = out_dir / "report.html"
    html_path.write_text(render_html(assignment, items, totals, max_total), encoding="utf-8")
    return csv_path, html_path
