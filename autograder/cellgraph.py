"""Which teaching cells of a source notebook its test cells can depend on.

The hardened grader's trusted kernel (hardened.py) runs the course's teaching cells before the
test cells, because tests use names they define (imports, helpers, example data). Most teaching
cells only teach: they draw figures, time things, print. Running them costs the trusted kernel
as much as it costs the student's. This module reads the code (``ast`` and ``symtable``, never
running it) and keeps too many cells rather than too few. A teaching cell is kept when:

* it imports, uses a magic, ``global``, ``exec``/``eval``/``setattr``/``open``..., calls a
  module's function that changes global state or files (``torch.manual_seed``,
  ``np.random.seed``, ``torch.set_default_dtype``, ``warnings.filterwarnings``,
  ``sys.path.append``, ``torch.save``...), assigns into a module (``os.environ[...] = ...``),
  or calls a notebook function that changes module-level state (one with ``global``, or
  changing a module-level object);
* or it binds, or may change, a name that a test cell or a kept cell reads. "May change" is
  read broadly: a method call on the name (``model.train()``), an assignment into it
  (``X[0] = 1``, ``net.weight = ...``) or passing it to a function (``train(net, data)``).

A test's reads are its free names: those it uses before binding them, and those its functions
and comprehensions look up as globals. A cell that cannot be parsed is kept, and a test cell
that cannot be parsed, or that looks names up dynamically (``globals()``, ``eval``...), keeps
every teaching cell. Names a test reads that no teaching cell binds come from the student's
kernel through the bridge, as before; a name a teaching cell binds never does, since that cell
is kept. Not seen: a method of an object that changes module-level state when called from a
cell that does not name the object's class (such a cell is kept only if it changes a needed
name).
"""

from __future__ import annotations

import ast
import builtins
import re
import symtable
from collections.abc import Sequence
from dataclasses import dataclass, field

#: In a module function's dotted name: the call changes global state or files.
GLOBAL_STATE = re.compile(
    r"seed|^set|^use_|warn|^rc|environ|^path$|chdir|register|enable|disable|^manual|determinis|"
    r"^add|^append|^insert|^extend|^update|^setdefault|^pop|^clear|^remove|^load|^switch|"
    r"^install|^patch|^reload|save|write|dump|mkdir|unlink|rename|copy|move|rmtree|_$"
)
#: Builtins that act on namespaces, files or global state.
DYNAMIC = {"exec", "eval", "setattr", "delattr", "globals", "locals", "vars", "__import__",
           "get_ipython", "compile", "open", "input"}  # fmt: skip
#: Builtins that only look at their arguments (and do not consume an iterator).
LOOKS_ONLY = {"print", "len", "repr", "str", "type", "isinstance", "id", "display", "format",
              "float", "int", "bool", "round", "abs", "hash"}  # fmt: skip
#: Builtins a call on which changes nothing of the notebook's (``super().__init__()``).
BUILTINS = set(dir(builtins)) - DYNAMIC
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)


@dataclass
class CellNames:
    """What one cell binds or may change, what it reads, and whether it must run anyway."""

    binds: set[str] = field(default_factory=set)
    reads: set[str] = field(default_factory=set)
    side_effect: bool = False


def _python(source: str) -> str:
    """The cell's code as Python: IPython magics become ``get_ipython()`` calls."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


def _parse(source: str) -> ast.Module | None:
    try:
        return ast.parse(_python(source))
    except (SyntaxError, ValueError):
        return None


def _root(node: ast.AST) -> tuple[str | None, list[str]]:
    """The name an attribute or item chain starts from: ``a.b.c`` -> ("a", ["b", "c"]),
    ``a[0].b`` -> ("a", ["b"]); None for anything else, e.g. the result of a call
    (``f(x).numpy()`` changes nothing ``f`` names)."""
    chain: list[str] = []
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        if isinstance(node, ast.Attribute):
            chain.append(node.attr)
        node = node.value
    return (node.id if isinstance(node, ast.Name) else None), chain[::-1]


def _here(node: ast.AST, comprehensions: bool = True):
    """The nodes under ``node`` that run when it runs: not function, lambda or class bodies
    (their decorators, defaults and bases do run); comprehensions only if asked."""
    todo = [node]
    while todo:
        current = todo.pop()
        yield current
        if isinstance(current, _SCOPES):
            todo += [*getattr(current, "decorator_list", []), *getattr(current, "bases", [])]
            arguments = getattr(current, "args", None)
            if isinstance(arguments, ast.arguments):
                todo += [*arguments.defaults, *(d for d in arguments.kw_defaults if d)]
            continue
        if isinstance(current, _COMPREHENSIONS) and not comprehensions:
            todo.append(current.generators[0].iter)  # evaluated in the enclosing scope
            continue
        todo += list(ast.iter_child_nodes(current))


def imported(node: ast.Import | ast.ImportFrom) -> set[str]:
    """The names an import statement binds: ``import a.b as c`` -> c, ``import a.b`` -> a."""
    return {(a.asname or a.name).split(".")[0] for a in node.names}


def _bound(node: ast.AST) -> set[str]:
    """Names a top-level statement binds in the module namespace."""
    names = set()
    for sub in _here(node, comprehensions=False):
        if isinstance(sub, ast.Name) and not isinstance(sub.ctx, ast.Load):
            names.add(sub.id)
        elif isinstance(sub, _SCOPES[:3]):  # at module level: _here skips function bodies
            names.add(sub.name)
        elif isinstance(sub, (ast.Import, ast.ImportFrom)):
            names |= imported(sub)
    return names


def _loads(node: ast.AST | None, bound: set[str]) -> set[str]:
    """Names ``node`` reads when it runs (not inside functions it defines) that are not bound."""
    if node is None:
        return set()
    return {
        n.id
        for n in _here(node, comprehensions=False)
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and n.id not in bound
    }


def _reads(statements: list[ast.stmt], bound: set[str]) -> set[str]:
    """Names read before the code binds them, in execution order; ``bound`` (changed in place)
    gathers the names every path through ``statements`` binds. A branch's or loop body's
    bindings count inside it, not after it (it may not run)."""
    reads: set[str] = set()
    for st in statements:
        if isinstance(st, (ast.For, ast.AsyncFor)):
            reads |= _loads(st.iter, bound)
            inner = bound | _bound(st.target)
            reads |= _reads(st.body, inner) | _reads(st.orelse, bound | _bound(st.target))
        elif isinstance(st, (ast.While, ast.If)):
            reads |= _loads(st.test, bound)
            reads |= _reads(st.body, set(bound)) | _reads(st.orelse, set(bound))
        elif isinstance(st, (ast.With, ast.AsyncWith)):
            for item in st.items:
                reads |= _loads(item.context_expr, bound)
                bound |= _bound(item.optional_vars) if item.optional_vars else set()
            reads |= _reads(st.body, bound)
        elif isinstance(st, ast.Try):
            reads |= _reads(st.body, set(bound))
            for handler in st.handlers:
                reads |= _loads(handler.type, bound)
                reads |= _reads(handler.body, bound | ({handler.name} if handler.name else set()))
            reads |= _reads(st.orelse, set(bound)) | _reads(st.finalbody, set(bound))
        else:  # a simple statement, def or class: its expressions run, then it binds
            reads |= _loads(st, bound)
            if isinstance(st, ast.AugAssign) and isinstance(st.target, ast.Name):
                reads |= {st.target.id} - bound  # x += 1 reads x
            bound |= _bound(st)
    return reads


def _nested_globals(table: symtable.SymbolTable) -> set[str]:
    """Globals that functions, classes and comprehensions of a cell look up."""
    names = set()
    for child in table.get_children():
        names |= {s.get_name() for s in child.get_symbols() if s.is_global() and s.is_referenced()}
        names |= _nested_globals(child)
    return names


def _changes(node: ast.AST, modules: set[str], mutators: set[str], names: CellNames) -> None:
    """Record what running ``node`` may change: names into ``binds``, else ``side_effect``."""
    if isinstance(node, (ast.Import, ast.ImportFrom, ast.Global, ast.Nonlocal)):
        names.side_effect = True
    elif isinstance(node, ast.Name) and node.id in DYNAMIC | mutators:
        names.side_effect = True
    elif isinstance(node, (ast.Attribute, ast.Subscript)) and not isinstance(node.ctx, ast.Load):
        root, _ = _root(node)  # X[0] = ..., X.a = ..., del X.a: X changes
        if root in modules:
            names.side_effect = True
        elif root and root not in BUILTINS:
            names.binds.add(root)
    elif isinstance(node, ast.Call):
        root, chain = _root(node.func)
        if root in modules:
            if any(GLOBAL_STATE.search(part) for part in chain):
                names.side_effect = True
        elif root and chain and root not in BUILTINS:  # model.train(), data.append(x)
            names.binds.add(root)
        if isinstance(node.func, ast.Name) and node.func.id in LOOKS_ONLY:
            return
        for arg in [*node.args, *(k.value for k in node.keywords)]:
            root, _ = _root(arg)
            if root and root not in modules | BUILTINS:  # train(net, data): they may change
                names.binds.add(root)


def cell_names(
    source: str, modules: set[str], mutators: set[str] = frozenset()
) -> CellNames | None:
    """Read one cell; None if it cannot be parsed. ``modules``: the names the notebook binds
    with ``import``; ``mutators``: its functions and classes that change module-level state."""
    tree = _parse(source)
    return None if tree is None else _tree_names(tree, modules, mutators)


def _tree_names(tree: ast.Module, modules: set[str], mutators: set[str]) -> CellNames | None:
    """:func:`cell_names` of a parsed cell."""
    try:
        table = symtable.symtable(ast.unparse(tree), "<cell>", "exec")
    except SyntaxError:
        return None
    names = CellNames()
    bound_anywhere: set[str] = set()
    for statement in tree.body:
        bound_anywhere |= _bound(statement)
        for sub in _here(statement):
            _changes(sub, modules, mutators, names)
    names.binds |= bound_anywhere
    names.reads = _reads(tree.body, set())
    names.reads |= _nested_globals(table) - bound_anywhere
    return names


def _mutators(trees: list[ast.Module], modules: set[str]) -> set[str]:
    """Functions and classes (by name) whose code changes module-level names or state, or
    calls one that does."""
    defs = []
    found: set[str] = set()
    for node in (n for tree in trees for stmt in tree.body for n in _here(stmt)):
        if isinstance(node, _SCOPES[:3]):  # module-level functions and classes
            try:
                table = symtable.symtable(ast.unparse(node), "<def>", "exec")
            except SyntaxError:
                found.add(node.name)
                continue
            local = {
                s.get_name()
                for t in _tables(table)
                if t.get_type() != "module"
                for s in t.get_symbols()
                if s.is_local() or s.is_parameter()
            }
            defs.append((node, local))
    changed = True
    while changed:
        changed = False
        for node, local in defs:
            if node.name in found:
                continue
            names = CellNames()
            for sub in ast.walk(node):
                if sub is not node:
                    _changes(sub, modules, found - local, names)
            if names.side_effect or names.binds - local:
                found.add(node.name)
                changed = True
    return found


def _tables(table: symtable.SymbolTable):
    yield table
    for child in table.get_children():
        yield from _tables(child)


def needed_cells(sources: Sequence[str], is_test: Sequence[bool]) -> set[int]:
    """Indices of the teaching cells (``is_test`` False) some test cell may depend on.

    ``sources``: a notebook's code cells in order, solution cells left out (the trusted kernel
    never runs them). The closure ignores order, which can only keep more.
    """
    trees = [_parse(s) for s in sources]
    modules = set().union(
        *(
            imported(node)
            for tree in trees
            if tree is not None
            for node in ast.walk(tree)
            if isinstance(node, (ast.Import, ast.ImportFrom))
        )
    )
    mutators = _mutators([t for t in trees if t is not None], modules)
    cells = [None if t is None else _tree_names(t, modules, mutators) for t in trees]
    teaching = [i for i, test in enumerate(is_test) if not test]
    tests = [cells[i] for i, test in enumerate(is_test) if test]
    if any(c is None or c.reads & DYNAMIC for c in tests):
        return set(teaching)
    keep = {i for i in teaching if cells[i] is None or cells[i].side_effect}
    needed = set().union(*(c.reads for c in tests), *(cells[i].reads for i in keep if cells[i]))
    changed = True
    while changed:
        changed = False
        for i in teaching:
            if i not in keep and cells[i].binds & needed:
                keep.add(i)
                needed |= cells[i].reads
                changed = True
    return keep
