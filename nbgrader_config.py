"""nbgrader configuration for CNN Foundations (run nbgrader from the repository root).

The six chapters are the course's assignments; ``notebooks/<chapter>/`` holds each one's
source notebook (solutions and hidden tests). ``autograder.course`` reads CHAPTERS from here.
"""

c = get_config()  # provided by nbgrader when it loads this file

#: One nbgrader assignment per chapter, in teaching order.
CHAPTERS = [
    "ch01_pixels",
    "ch02_kernels",
    "ch03_edges",
    "ch04_learning_kernel",
    "ch05_pooling",
    "ch06_cifar10",
]

c.CourseDirectory.course_id = "cnn-foundations"
c.CourseDirectory.source_directory = "notebooks"
# The gradebook defaults to sqlite:///<root>/gradebook.db; `python -m autograder grade --db URL`
# (or c.CourseDirectory.db_url here) points it at PostgreSQL instead.

# Per-cell time limit while autograding. The slowest cell in the course (the CIFAR-10 loader
# benchmark) takes a few seconds on a 2-core CPU; 120 s leaves room for slow machines while
# an infinite loop still costs only that cell.
c.Execute.timeout = 120
c.Execute.interrupt_on_timeout = True
# A kernel on a busy grading machine can take long to start; do not fail the notebook for it.
c.Execute.startup_timeout = 180
# ...nor a cell whose last output arrives late (nbclient waits 4 s by default; seen at load 65).
c.Execute.iopub_timeout = 30

# Students' code must not depend on a GPU being present; the release is generated without
# executing anything, so no outputs leak.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ClearSolutions.text_stub = "YOUR ANSWER HERE"
