"""Does a hostile submission gain nothing, and leave the batch and every classmate untouched?

The adversarial suite of issue #7. Each attack is injected into the same *wrong base*: the
chapter-1 reference solution with ``to_chw`` (reshape instead of permute) and ``rgb_to_gray``
(equal weights) wrong, so that an attack that worked would show up as points the base does not
earn. Code attacks live in ``tests/fixtures/attacks/<name>.py``: a header in the mutant fixtures'
style (``# cell: <grade_id>`` of the solution cell it is appended to, ``# why: ...``, ``# report:
<messages.py name>`` of the note the summary must show, or ``ok``; ``# base: <mutant>`` when
the attack needs another known wrong answer under it: it is then compared with a student who
submits that wrong answer without the attack), then the code; a body line ``# cell: <grade_id>``
starts a second piece appended to another solution cell. Attacks on the
notebook itself (not JSON, another nbformat, renamed, missing, test cells deleted, duplicated,
edited, re-pointed, re-labelled) are built below from the base notebook.

Everything is graded in one batch by the hardened, sandboxed grader, next to two honest students
whose per-cell scores must equal those they get when graded without the attackers. A control
test grades the key attacks the way plain ``nbgrader autograde`` does (one kernel, no sandbox)
and shows that there they *do* gain points: the suite cannot pass for want of real attacks.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
import pytest

from autograder import course, fixtures
from autograder import messages as M
from autograder.grade import Options, grade, summary
from autograder.nbgrader_tools import grades, make_course_dir, release_notebook, run_nbgrader

CHAPTER = "ch01_pixels"
NOTEBOOK = "pixels.ipynb"
ATTACKS = Path(__file__).parent / "fixtures" / "attacks"
WRONG = ("chw_reshape", "gray_mean")  # the mutants that make the wrong base wrong
HONEST = ("honest-1", "honest-2")
BASE = "wrong-base"
#: Limits for the batch: tight enough that the loop, memory and time attacks cost seconds,
#: loose enough for an honest ch01 notebook on a busy 2-core machine.
LIMITS = dict(workers=2, memory_mb=1536, cell_timeout=30, notebook_timeout=240)
HEADER = re.compile(r"^#\s*(\w+)\s*:\s*(.*?)\s*$")
SECTION = re.compile(r"^# cell: (\w+)\s*$")


# --- the attacks ------------------------------------------------------------------------------


@dataclass
class Attack:
    """Code appended to solution cells of the wrong base (a fixture file), or a notebook edit."""

    name: str
    why: str
    report: str  # a messages.py NOTE_* name the summary line must show, or "ok"
    cells: dict[str, str] = field(default_factory=dict)  # grade_id -> code appended to it
    base: tuple[str, ...] = ()  # ch01 mutants applied under the attack (and to its baseline)

    @property
    def baseline(self) -> str:
        """The student it is compared with: the wrong base, or the base with its mutants."""
        return f"baseline-{self.name}" if self.base else BASE

    def note(self) -> str:
        """The fixed text of the expected note (its template without the placeholders)."""
        if self.report == "ok":
            return ""
        return max(re.split(r"\{[^}]*\}", getattr(M, self.report)), key=len).strip()


def load_attack(path: Path, port: int) -> Attack:
    """Read one attack fixture; ``ATTACK_PORT`` in the code becomes the test server's port."""
    meta: dict[str, list[str]] = {}
    lines = path.read_text(encoding="utf-8").splitlines()
    start = 0
    while start < len(lines) and (match := HEADER.match(lines[start])):
        meta.setdefault(match.group(1), []).append(match.group(2))
        start += 1
    fx = fixtures.parse(path)  # the header the mutants use: at least a `cell:` line
    cells: dict[str, str] = {fx.cell: ""}
    current = fx.cell
    for line in lines[start:]:
        if match := SECTION.match(line):
            current = match.group(1)
            cells.setdefault(current, "")
            continue
        cells[current] += line.replace("ATTACK_PORT", str(port)) + "\n"
    base = tuple(m.strip() for m in ",".join(meta.get("base", [])).split(",") if m.strip())
    why = " ".join(meta.get("why", []))
    return Attack(path.stem, why, meta.get("report", ["ok"])[0], cells, base)


def code_attacks(port: int = 0) -> list[Attack]:
    return [load_attack(p, port) for p in sorted(ATTACKS.glob("*.py"))]


def inject(nb: nbformat.NotebookNode, attack: Attack) -> nbformat.NotebookNode:
    out = nbformat.from_dict(nb)
    found = set()
    for cell in out.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in attack.cells and cell.metadata["nbgrader"].get("solution"):
            cell.source = cell.source.rstrip("\n") + "\n\n\n" + attack.cells[grade_id]
            found.add(grade_id)
    missing = set(attack.cells) - found
    assert not missing, f"{attack.name}: no solution cell {missing}"
    return out


def _tests(nb: nbformat.NotebookNode, *grade_ids: str) -> list[nbformat.NotebookNode]:
    cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") in grade_ids]
    assert len(cells) == len(grade_ids)
    return cells


FAILING = ("test_to_chw", "test_layout_hidden", "test_rgb_to_gray", "test_rgb_to_gray_hidden")
PASSING = ("test_to_hwc", "test_conversions_hidden", "test_make_seed_image_hidden")


def _deleted(nb):
    nb.cells = [c for c in nb.cells if c not in _tests(nb, *FAILING)]


def _duplicated(nb):
    for cell in _tests(nb, *PASSING):
        at = nb.cells.index(cell)
        copies = [nbformat.from_dict(cell) for _ in range(3)]
        for i, copy in enumerate(copies):
            copy.id = f"{cell.id}-copy{i}"
        nb.cells[at:at] = copies


def _edited(nb):
    for cell in _tests(nb, *FAILING):
        cell.source = "print('all good')"
        cell.metadata.nbgrader["locked"] = False


def _points(nb):
    for cell in _tests(nb, *PASSING):
        cell.metadata.nbgrader["points"] = 100


def _renamed_ids(nb):
    for cell in _tests(nb, *FAILING):
        cell.metadata.nbgrader["grade_id"] = cell.metadata.nbgrader["grade_id"] + "_extra_credit"
        cell.metadata.nbgrader["points"] = 10
        cell.source = "print('extra credit')"


def _swapped_ids(nb):
    """The failing cells claim to be the passing ones, the passing ones the failing ones."""
    for bad, good in zip(_tests(nb, *FAILING[:2]), _tests(nb, *PASSING[:2])):
        bad.metadata.nbgrader["grade_id"], good.metadata.nbgrader["grade_id"] = (
            good.metadata.nbgrader["grade_id"],
            bad.metadata.nbgrader["grade_id"],
        )


def _made_solution(nb):
    for cell in _tests(nb, *FAILING):
        cell.metadata.nbgrader["solution"] = True
        cell.source = "pass"


#: name -> (why, note, how to write the submission folder from the base notebook)
NOTEBOOK_ATTACKS = {
    "nb_invalid_json": (
        "the notebook file is not valid JSON",
        "NOTE_NOTEBOOK_UNREADABLE",
        lambda nb, folder: (folder / NOTEBOOK).write_text(nbformat.writes(nb)[:5000]),
    ),
    "nb_format_v3": (
        "the notebook is saved as nbformat 3 (the old format)",
        "ok",
        lambda nb, folder: nbformat.write(nb, folder / NOTEBOOK, version=3),
    ),
    "nb_format_99": (
        "the notebook claims nbformat 99",
        "NOTE_NOTEBOOK_UNREADABLE",
        lambda nb, folder: (folder / NOTEBOOK).write_text(
            json.dumps({**json.loads(nbformat.writes(nb)), "nbformat": 99})
        ),
    ),
    "nb_renamed": (
        "the notebook is submitted under another name",
        "NOTE_NOTEBOOK_MISSING",
        lambda nb, folder: nbformat.write(nb, folder / "pixels-final.ipynb"),
    ),
    "nb_missing": (
        "no notebook at all in the submission folder",
        "NOTE_NOTEBOOK_MISSING",
        lambda nb, folder: (folder / "README.txt").write_text("I did it all in my head\n"),
    ),
}
#: name -> (why, note, edit of the base notebook in place)
CELL_ATTACKS = {
    "tests_deleted": ("the failing test cells are deleted", "NOTE_MISSING_TESTS", _deleted),
    "tests_duplicated": (
        "passing test cells are copied 3 times",
        "NOTE_DUPLICATE_CELLS",
        _duplicated,
    ),
    "tests_edited": (
        "failing test cells are unlocked and emptied",
        "NOTE_EDITED_TESTS",
        _edited,
    ),
    "tests_points": ("passing test cells claim 100 points", "NOTE_CHANGED_TESTS", _points),
    "tests_renamed": (
        "failing test cells get new grade_ids worth 10 points",
        "NOTE_UNKNOWN_TEST",
        _renamed_ids,
    ),
    "tests_swapped_ids": ("failing and passing test cells swap grade_ids", "ok", _swapped_ids),
    "tests_made_solution": (
        "failing test cells are marked solution cells",
        "NOTE_CHANGED_TESTS",
        _made_solution,
    ),
}


# --- the course -----------------------------------------------------------------------------


def with_mutants(nb: nbformat.NotebookNode, names) -> nbformat.NotebookNode:
    for name in names:
        nb = fixtures.apply(nb, fixtures.parse(course.MUTANTS / CHAPTER / f"{name}.py"))
    return nb


def wrong_base(release: nbformat.NotebookNode, source: nbformat.NotebookNode):
    solution = fixtures.solved(release, source)
    return solution, with_mutants(solution, WRONG)


def submit_folder(root: Path, student: str) -> Path:
    folder = root / "submitted" / student / CHAPTER
    folder.mkdir(parents=True)
    return folder


def build_course(root: Path, attacks: list[Attack], notebook_attacks: bool = True) -> dict:
    """A released ch01 course with the honest students, the base and one student per attack."""
    make_course_dir(root, [CHAPTER])
    run_nbgrader("generate_assignment", CHAPTER, "--force", cwd=root)
    release = nbformat.read(release_notebook(root, CHAPTER), as_version=4)
    source = nbformat.read(course.source_notebook(CHAPTER), as_version=4)
    solution, base = wrong_base(release, source)
    for student in HONEST:
        nbformat.write(solution, submit_folder(root, student) / NOTEBOOK)
    nbformat.write(base, submit_folder(root, BASE) / NOTEBOOK)
    expected = {}
    for attack in attacks:
        under = with_mutants(base, attack.base)
        nbformat.write(inject(under, attack), submit_folder(root, attack.name) / NOTEBOOK)
        if attack.base:
            nbformat.write(under, submit_folder(root, attack.baseline) / NOTEBOOK)
        expected[attack.name] = attack
    if notebook_attacks:
        for name, (why, report, write) in NOTEBOOK_ATTACKS.items():
            write(nbformat.from_dict(base), submit_folder(root, name))
            expected[name] = Attack(name, why, report)
        for name, (why, report, edit) in CELL_ATTACKS.items():
            nb = nbformat.from_dict(base)
            edit(nb)
            nbformat.write(nb, submit_folder(root, name) / NOTEBOOK)
            expected[name] = Attack(name, why, report)
    return expected


def scores(root: Path, student: str) -> dict[str, float]:
    """Per test cell scores from the gradebook; {} when the student has no graded notebook."""
    from nbgrader.api import MissingEntry

    try:
        return {k: v.score for k, v in grades(root, CHAPTER, student).items()}
    except MissingEntry:
        return {}


class SolutionServer:
    """A TCP server on the host's loopback that hands the reference solution to whoever asks."""

    def __init__(self, solution: str) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.payload = b"HTTP/1.0 200 OK\r\n\r\n" + solution.encode()
        self.served = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                self.served += 1
                conn.settimeout(2)
                try:
                    conn.recv(1024)
                    conn.sendall(self.payload)
                except OSError:
                    pass

    def close(self) -> None:
        self.sock.close()


def solution_code() -> str:
    source = nbformat.read(course.source_notebook(CHAPTER), as_version=4)
    return "\n\n".join(
        "\n".join(ln for ln in c.source.splitlines() if not fixtures.SOLUTION_MARKERS.match(ln))
        for c in source.cells
        if c.metadata.get("nbgrader", {}).get("solution")
    )


# --- the batch --------------------------------------------------------------------------------

#: Attacks that earn the public test they hard-code (by design: the public test is public);
#: the hidden tests, worth more, must still fail.
PUBLIC_ALLOWANCE = {"hardcode_public": ("test_to_chw", "test_rgb_to_gray")}


@dataclass
class Batch:
    root: Path
    attacks: dict[str, Attack]
    results: list
    seconds: float
    table: str
    served: int


@pytest.fixture(scope="module")
def batch(tmp_path_factory) -> Batch:
    """Every attack, the wrong base and two honest students, graded in one hardened batch."""
    root = tmp_path_factory.mktemp("attacks") / "course"
    server = SolutionServer(solution_code())
    try:
        attacks = build_course(root, code_attacks(server.port))
        start = time.monotonic()
        results = grade(root, CHAPTER, Options(**LIMITS), progress=False)
        seconds = time.monotonic() - start
    finally:
        server.close()
    table = summary(root, CHAPTER, results, Options(**LIMITS))
    print(f"graded {len(results)} submissions in {seconds:.0f} s\n{table}")
    return Batch(root, attacks, results, seconds, table, server.served)


@pytest.mark.slow
def test_does_the_batch_grade_every_submission(batch):
    students = {r.student for r in batch.results}
    baselines = {a.baseline for a in batch.attacks.values()}
    assert students == {*HONEST, BASE, *batch.attacks, *baselines}
    assert batch.seconds < 900, "the limits must keep a hostile batch short"


@pytest.mark.slow
def test_does_no_attack_gain_points(batch):
    """Every test cell scores at most what the wrong base (or the attack's baseline) scores."""
    base = scores(batch.root, BASE)
    assert sum(base.values()) == 8 and len(base) == 10, base  # the base really is wrong
    gained = {}
    for name, attack in batch.attacks.items():
        base = scores(batch.root, attack.baseline)
        got = scores(batch.root, name)
        allowed = PUBLIC_ALLOWANCE.get(name, ())
        more = {k: v for k, v in got.items() if v > base.get(k, 0) and k not in allowed}
        if more or set(got) - set(base):
            gained[name] = more or sorted(set(got) - set(base))
    assert not gained, f"attacks that gained points: {gained}"


@pytest.mark.slow
def test_does_a_code_attack_cost_only_its_own_cells(batch):
    """The grader survives every code attack: the notebook is graded, not failed as a whole."""
    failed = {
        r.student: (r.error.strip().splitlines() or ["?"])[-1][:200]
        for r in batch.results
        if not r.success and r.student in batch.attacks and batch.attacks[r.student].cells
    }
    assert not failed, f"grading failed as a whole for: {failed}"


@pytest.mark.slow
def test_does_hard_coding_the_public_test_fail_the_hidden_one(batch):
    got = scores(batch.root, "hardcode_public")
    assert got["test_to_chw"] == 1 and got["test_rgb_to_gray"] == 1
    assert got["test_layout_hidden"] == 0 and got["test_rgb_to_gray_hidden"] == 0


@pytest.mark.slow
def test_are_honest_students_graded_as_without_the_attackers(batch, tmp_path):
    alone = tmp_path / "course"
    build_course(alone, [], notebook_attacks=False)
    results = grade(alone, CHAPTER, Options(**LIMITS), progress=False)
    assert all(r.success for r in results)
    for student in (*HONEST, BASE):
        assert scores(batch.root, student) == scores(alone, student), student
    for student in HONEST:
        got = grades(batch.root, CHAPTER, student)
        assert all(c.score == c.max_score for c in got.values()), got


@pytest.mark.slow
def test_did_no_submission_reach_the_network(batch):
    assert batch.served == 0, "a sandboxed kernel connected to the host's loopback"


@pytest.mark.slow
def test_does_the_summary_have_a_clear_line_for_each_attacker(batch):
    lines = {line.split()[0]: line for line in batch.table.splitlines()[1:-1]}
    missing = []
    for name, attack in batch.attacks.items():
        line = lines.get(name, "")
        if not line or (attack.note() and attack.note() not in line):
            missing.append(f"{name}: expected {attack.report} in {line!r}")
    assert not missing, "\n".join(missing)
    for student in (*HONEST, BASE):
        assert "|" not in lines[student], lines[student]  # no note for a clean notebook


#: The attacks that must work against plain nbgrader-style grading (one kernel, no sandbox).
CONTROL = ("compile_rewrite", "allclose_patch", "checks_attr_patch", "read_source_notebook")


@pytest.mark.slow
def test_do_the_key_attacks_gain_points_under_plain_grading(tmp_path):
    """The control: without the hardened grader and the sandbox these attacks do pay."""
    root = tmp_path / "course"
    attacks = [a for a in code_attacks() if a.name in CONTROL]
    assert sorted(a.name for a in attacks) == sorted(CONTROL)
    build_course(root, attacks, notebook_attacks=False)
    plain = Options(**LIMITS, hardened=False, sandbox=False)
    results = grade(root, CHAPTER, plain, progress=False)
    # nbgrader's log ends with a generic NbGraderException: keep enough to show the cause
    assert all(r.success for r in results), [r.error[-4000:] for r in results if not r.success]
    base = sum(scores(root, BASE).values())
    gains = {a.name: sum(scores(root, a.name).values()) - base for a in attacks}
    assert all(g > 0 for g in gains.values()), gains
