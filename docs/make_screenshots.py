"""Regenerate the README's screenshots in headless Chromium (Debian's, driven by Playwright).

    python docs/make_screenshots.py            # both
    python docs/make_screenshots.py student    # or: report

* ``docs/images/student-jupyterlab.png``: chapter 1 in JupyterLab, answered with the reference
  solutions, run, and nbgrader's Validate dialog open;
* ``docs/images/instructor-report.png``: ``python -m autograder report``'s item analysis page for
  a small class graded by nbgrader (the reference, a blank release, and answers with typical
  mistakes from tests/fixtures/mutants/).

Both are palette PNGs (256 colours) to keep the repository small. The browser plumbing is
shared with the browser test: tests/browser/lab.py.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
from pathlib import Path

import nbformat
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from browser import lab  # noqa: E402

from autograder import course, fixtures  # noqa: E402
from autograder.nbgrader_tools import (  # noqa: E402
    make_course_dir,
    release_notebook,
    run_nbgrader,
    submit,
)
from autograder.report import report  # noqa: E402

CHAPTER = "ch01_pixels"
IMAGES = ROOT / "docs" / "images"
MAX_BYTES = 300_000


def save_small(png: bytes, target: Path, width: int) -> Path:
    """Scale to ``width`` pixels and store as a 256-colour PNG."""
    image = Image.open(io.BytesIO(png)).convert("RGB")
    if image.width > width:
        image = image.resize((width, round(image.height * width / image.width)), Image.LANCZOS)
    image = image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    target.parent.mkdir(parents=True, exist_ok=True)
    image.save(target, optimize=True)
    size = target.stat().st_size
    if size > MAX_BYTES:
        raise SystemExit(f"{target} is {size:,} bytes; keep screenshots under {MAX_BYTES:,}")
    print(f"{target.relative_to(ROOT)}: {image.width}×{image.height}, {size:,} bytes")
    return target


def student_screenshot(work: Path) -> Path:
    student = lab.student_release(work, CHAPTER)
    (path,) = student.glob("*/*.ipynb")
    source = nbformat.read(course.source_notebook(CHAPTER), as_version=4)
    answered = fixtures.solved(nbformat.read(path, as_version=4), source)
    nbformat.write(answered, path)
    figure_cell = lab.cell_index(path, "rgb_to_gray") + 3  # the colour / gray figure
    with lab.jupyter_lab(student, work / "jupyter") as server:
        with lab.chromium_page(width=1280, height=820) as page:
            nb = lab.Notebook(page, server, path.relative_to(student).as_posix())
            nb.open(cells=len(answered.cells))
            nb.run_all()
            nb.scroll_to(figure_cell)
            kind, text = nb.validate()
            if kind != "validation-success":
                raise SystemExit(f"validate did not succeed: {text}")
            png = page.screenshot()
    return save_small(png, IMAGES / "student-jupyterlab.png", width=1100)


def class_submissions(root: Path) -> None:
    """A small class: the reference, a blank release, and one or two typical mistakes each."""
    source = nbformat.read(course.source_notebook(CHAPTER), as_version=4)
    release = nbformat.read(release_notebook(root, CHAPTER), as_version=4)
    solution = fixtures.solved(release, source)
    by_cell: dict[str, list[fixtures.Fixture]] = {}
    for fx in fixtures.mutants(CHAPTER):
        by_cell.setdefault(fx.cell, []).append(fx)
    submit(root, CHAPTER, "student01", solution)
    submit(root, CHAPTER, "student02", solution)
    submit(root, CHAPTER, "student03", release)
    mistakes = [
        [by_cell["to_chw"][0]],
        [by_cell["to_chw"][1], by_cell["rgb_to_gray"][0]],
        [by_cell["rgb_to_gray"][1]],
        [by_cell["make_seed_image"][0]],
        [by_cell["uint8_to_float"][0], by_cell["make_seed_image"][1]],
        [by_cell["to_chw"][2]],
    ]
    for n, wrong in enumerate(mistakes, start=4):
        nb = solution
        for fx in wrong:
            nb = fixtures.apply(nb, fx)
        submit(root, CHAPTER, f"student{n:02d}", nb)


def report_screenshot(work: Path) -> Path:
    root = make_course_dir(work / "course", [CHAPTER])
    run_nbgrader("generate_assignment", CHAPTER, "--force", cwd=root)
    class_submissions(root)
    print("grading the example class with nbgrader autograde (a minute or two)")
    run_nbgrader("autograde", CHAPTER, "--force", cwd=root)
    _, html_path = report(root, CHAPTER, root / "reports" / CHAPTER)
    with lab.chromium_page(width=1000, height=900) as page:
        page.goto(html_path.resolve().as_uri())
        page.locator("img").last.wait_for(state="visible")
        png = page.screenshot(full_page=True)
    return save_small(png, IMAGES / "instructor-report.png", width=900)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("which", nargs="*", choices=["student", "report"], default=[])
    which = parser.parse_args(argv).which or ["student", "report"]
    with tempfile.TemporaryDirectory(prefix="cnn-screenshots-") as tmp:
        if "student" in which:
            student_screenshot(Path(tmp) / "student")
        if "report" in which:
            report_screenshot(Path(tmp) / "report")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
