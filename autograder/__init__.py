"""CNN Foundations autograder: the check library that test cells call and the instructor CLI."""

__version__ = "0.1.0"
