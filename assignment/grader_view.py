"""What the grader runs of a notebook: every definition, and none of the heavy top-level work.

The hidden checks call the student's functions on inputs of their own, so they need everything
those functions rely on (helper cells, constants, devices, values computed by code), but not the
training runs, plots and downloads around them: those would cost minutes and need data the
checks do not give. This module decides, statement by statement and in notebook order, what is
kept, and why anything is left out. A statement is left out when it trains, plots or loads data
(or runs a magic), or when it uses something left out before it, so leaving a statement out never
makes a later one fail. Definitions (def, class, import) are always kept; printing is harmless.

The same code runs in three places, so the student hears before submitting what the grader
does: the grader (autograder/grading/extract.py), the notebook's self-check, and its check cells (the
notebook carries this file verbatim in its `grader_view` cell). Standard library only, and
IPython's own reading of magics when it is there (it is in every notebook kernel).
"""
import ast
import re
import symtable
from typing import NamedTuple

try:
    from IPython.core.inputtransformer2 import TransformerManager
except ImportError:   # outside IPython: magics and shell lines are blanked instead
    TransformerManager = None

# A top-level statement that calls one of these is heavy work the autograder leaves out.
LEFT_OUT_CALLS = {
    "train_autoencoder": "it trains a model", "train_vae": "it trains a model",
    "load_mnist": "it loads MNIST", "show_images": "it plots", "plot_curves": "it plots",
    "display": "it displays", "get_ipython": "it runs an IPython command or magic",
    "self_check": "it runs the self-check", "warn_unseen": "it runs a check",
    "exit": "it ends the kernel", "quit": "it ends the kernel",
}
LEFT_OUT_FUNCTIONS = {   # ... or one of these functions of a module
    ("os", "_exit"): "it ends the kernel", ("os", "abort"): "it ends the kernel", ("os", "kill"): "it sends a signal",
    ("os", "killpg"): "it sends a signal", ("sys", "exit"): "it ends the kernel", ("os", "system"): "it runs a program",
    ("os", "fork"): "it starts a process", ("os", "chdir"): "it changes the working folder",
}
LEFT_OUT_MODULES = {   # ... or a function of one of these modules
    "plt": "it plots", "matplotlib": "it plots", "datasets": "it loads a dataset", "IPython": "it displays",
    "files": "it uses Colab's files", "drive": "it uses Google Drive", "wandb": "it logs to wandb",
    "subprocess": "it runs a program", "urllib": "it downloads", "requests": "it downloads",
}
LEFT_OUT_METHODS = {"backward": "it trains a model (calls .backward())", "step": "it trains a model (calls .step())"}
# Methods that change the object they are called on (and torch's in-place ones, ending in "_"): a
# left-out statement that calls one leaves that object changed in a way the grader does not have.
MUTATORS = {"append", "extend", "insert", "update", "setdefault", "pop", "popitem", "clear", "remove", "add",
            "discard", "sort", "reverse", "load_state_dict", "train", "eval", "to", "cuda", "cpu", "apply",
            "register_buffer", "register_parameter", "add_module", "__setitem__", "__delitem__"}


class Kept(NamedTuple):
    cell: str          # the cell's label (its grade id, or where a cell the student added sits)
    line: int          # first line of the statement in its cell
    source: str
    binds: tuple       # names it defines


class LeftOut(NamedTuple):
    cell: str
    line: int
    binds: tuple       # names it would have defined or changed
    reason: str        # plain words: "it trains a model", "it uses train_loader, which ..."


class Unseen(NamedTuple):
    user: str          # a function or class the grader keeps
    name: str          # a name it uses that only a left-out statement defines
    cell: str
    line: int
    reason: str


class GraderView(NamedTuple):
    kept: list
    left_out: list
    unparsable: dict   # cell label -> "line N: message"
    missing: dict      # name -> the LeftOut statement that last defined it (names the grader will not have)
    unseen: list       # Unseen: kept functions and classes that use a missing name


def _python(source: str) -> str:
    """The cell as Python: IPython's magics and shell lines (%, %%, !) as the calls IPython makes of them
    (get_ipython().run_line_magic(...), left out as heavy), or blanked where IPython is not installed."""
    if TransformerManager is not None:
        try:
            return TransformerManager().transform_cell(source)
        except Exception:   # IPython could not read it either: parse it as it is
            return source
    return "\n".join("" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines())


def _root(node: ast.AST):
    """The name at the root of x.a[0].b(...): x."""
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _stored(node: ast.AST) -> list:
    return [n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)]


def _targets(statement: ast.stmt) -> tuple:
    """The names a top-level statement (re)binds."""
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return (statement.name,)
    if isinstance(statement, (ast.Import, ast.ImportFrom)):
        return tuple((alias.asname or alias.name).split(".")[0] for alias in statement.names if alias.name != "*")
    return tuple(dict.fromkeys(_stored(statement)))


def _changed(statement: ast.stmt) -> set:
    """Names whose value a statement changes in place: tuned[beta] = ..., model.beta = ..., results.append(...)."""
    roots = set()
    for node in ast.walk(statement):
        if isinstance(node, (ast.Subscript, ast.Attribute)) and isinstance(node.ctx, (ast.Store, ast.Del)):
            roots.add(_root(node))
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and (
                node.func.attr in MUTATORS or (node.func.attr.endswith("_") and not node.func.attr.startswith("__"))):
            roots.add(_root(node.func.value))
    return roots - {None}


def _loaded(nodes: list) -> set:
    return {n.id for node in nodes if node is not None for n in ast.walk(node)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _globals_of(table: symtable.SymbolTable) -> set:
    """Global names read in `table` and every scope inside it."""
    names = {s.get_name() for s in table.get_symbols() if s.is_referenced() and s.is_global()}
    for child in table.get_children():
        names |= _globals_of(child)
    return names


def _reads_and_uses(statement: ast.stmt, text: str, label: str) -> tuple:
    """(global names the statement reads when it runs, global names its function bodies read when called).

    A def runs only its header (decorators, defaults, annotations); a class its header and body.
    """
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        table = symtable.symtable(text, label, "exec")
    if isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef)):
        args = statement.args
        header = statement.decorator_list + args.defaults + args.kw_defaults + [statement.returns] + [
            a.annotation for a in args.posonlyargs + args.args + args.kwonlyargs + [args.vararg, args.kwarg] if a]
        return _loaded(header), _globals_of(table)
    if isinstance(statement, ast.ClassDef):
        header = _loaded(statement.decorator_list + statement.bases + [k.value for k in statement.keywords])
        body = next((c for c in table.get_children() if c.get_name() == statement.name), None)
        own = {s.get_name() for s in body.get_symbols() if s.is_referenced() and not s.is_assigned()} if body else set()
        return header | own, _globals_of(table)
    reads, bound = set(), set()
    for node in _in_order(statement):   # a name is read from before only if it is read before this binds it
        if node.id not in bound:
            if isinstance(node.ctx, ast.Load):
                reads.add(node.id)
            else:
                bound.add(node.id)
    return reads, set()


def _in_order(node: ast.AST):
    """The Name nodes of `node`, roughly in the order Python evaluates them (a value before its
    targets, a loop's iterable before its variable, a comprehension's sources before its result);
    the names of a lambda's own parameters are not reads."""
    if isinstance(node, ast.Name):
        yield node
    elif isinstance(node, (ast.Assign, ast.AnnAssign)):
        if node.value is not None:
            yield from _in_order(node.value)
        for target in getattr(node, "targets", None) or [node.target]:
            yield from _in_order(target)
    elif isinstance(node, ast.AugAssign):
        yield from _in_order(node.value)
        if isinstance(node.target, ast.Name):
            yield ast.Name(node.target.id, ast.Load())
        yield from _in_order(node.target)
    elif isinstance(node, (ast.For, ast.AsyncFor)):
        for part in [node.iter, node.target] + node.body + node.orelse:
            yield from _in_order(part)
    elif isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp, ast.DictComp)):
        for generator in node.generators:
            for part in [generator.iter, generator.target] + generator.ifs:
                yield from _in_order(part)
        for part in ([node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]):
            yield from _in_order(part)
    elif isinstance(node, ast.Lambda):
        params = {a.arg for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs
                  + [node.args.vararg, node.args.kwarg] if a}
        for default in node.args.defaults + [d for d in node.args.kw_defaults if d]:
            yield from _in_order(default)
        yield from (name for name in _in_order(node.body) if name.id not in params)
    else:
        for child in ast.iter_child_nodes(node):
            yield from _in_order(child)


def _calls(node: ast.AST, skip_bodies: bool) -> list:
    """(called name, module root, method) of every call in `node`, not inside def bodies if skip_bodies."""
    found, stack = [], [node]
    while stack:
        current = stack.pop()
        if skip_bodies and isinstance(current, (ast.FunctionDef, ast.AsyncFunctionDef)):
            args = current.args
            stack.extend(current.decorator_list + args.defaults + [d for d in args.kw_defaults if d])
            continue
        if isinstance(current, ast.Call):
            func = current.func
            if isinstance(func, ast.Name):
                found.append((func.id, None, None))
            elif isinstance(func, ast.Attribute):
                found.append((None, _root(func.value), func.attr))
        stack.extend(ast.iter_child_nodes(current))
    return found


def _heavy(calls: list, heavy_functions: dict):
    """Why a statement making these calls is heavy work, or None (training said first, printing last)."""
    reasons = []
    for name, root, method in calls:
        if name in LEFT_OUT_CALLS:
            reasons.append(f"{LEFT_OUT_CALLS[name]} (calls {name})")
        elif name in heavy_functions:
            reasons.append(f"it calls {name}, which {heavy_functions[name].removeprefix('it ')}")
        elif root in LEFT_OUT_MODULES:
            reasons.append(f"{LEFT_OUT_MODULES[root]} (calls {root}.{method})")
        elif (root, method) in LEFT_OUT_FUNCTIONS:
            reasons.append(f"{LEFT_OUT_FUNCTIONS[root, method]} (calls {root}.{method})")
        elif method in LEFT_OUT_METHODS:
            reasons.append(LEFT_OUT_METHODS[method])
    order = ("it trains", "it calls", "it loads", "it downloads")
    return min(reasons, key=lambda r: next((i for i, p in enumerate(order) if r.startswith(p)), len(order)),
               default=None)


def _segment(lines: list, statement: ast.stmt) -> tuple:
    """(first line, source) of one top-level statement, decorators included; only its own part of
    a line it shares with others (a = 1; b = 2). Columns in the AST count UTF-8 bytes."""
    decorators = getattr(statement, "decorator_list", [])
    if decorators:
        first, start = min(d.lineno for d in decorators), 0
    else:
        first, start = statement.lineno, statement.col_offset
    end, stop = statement.end_lineno, statement.end_col_offset
    chosen = [line.encode("utf-8") for line in lines[first - 1:end]]
    if len(chosen) == 1:
        chosen = [chosen[0][start:stop]]
    else:
        chosen = [chosen[0][start:]] + chosen[1:-1] + [chosen[-1][:stop]]
    return first, "\n".join(part.decode("utf-8", errors="replace") for part in chosen)


def _closure(names: set, uses: dict) -> set:
    """Everything calling `names` may read: their bodies' globals, and those of the functions they use."""
    seen, todo = set(), [name for name in names if name in uses]
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(used for used in uses[name] if used in uses and used not in seen)
    return set().union(*(uses[name] for name in seen)) if seen else set()


def grader_view(cells: list) -> GraderView:
    """What the grader runs of `cells`, a list of (label, source) in notebook order."""
    view = GraderView([], [], {}, {}, [])
    heavy_functions, uses, kinds, closures = {}, {}, {}, {}   # kinds: name -> "definition" or "data"
    for label, cell_source in cells:
        source = _python(cell_source)
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
            view.unparsable[label] = f"line {getattr(error, 'lineno', None) or '?'}: {getattr(error, 'msg', error)}"
            continue
        lines = source.splitlines()
        for statement in tree.body:
            first, text = _segment(lines, statement)
            is_function = isinstance(statement, (ast.FunctionDef, ast.AsyncFunctionDef))
            is_definition = is_function or isinstance(statement, (ast.ClassDef, ast.Import, ast.ImportFrom))
            try:
                reads, body_uses = _reads_and_uses(statement, text, label)
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                reads, body_uses = set(), set()
            calls = _calls(statement, skip_bodies=True)
            for name in {name for name, _, _ in calls if name in uses}:
                if name not in closures:
                    closures[name] = _closure({name}, uses)
                reads |= closures[name]
            reason = _heavy(calls, heavy_functions)
            missing = sorted(name for name in reads if name in view.missing)
            if reason is None and missing:
                reason = f"it uses {missing[0]}, which the autograder leaves out"
            targets = _targets(statement)
            if reason is not None:
                lost = set(targets) | {name for name in _changed(statement) if kinds.get(name) == "data"}
                left_out = LeftOut(label, first, tuple(sorted(lost)), reason)
                view.left_out.append(left_out)
                view.missing.update((name, left_out) for name in lost)
                continue
            view.kept.append(Kept(label, first, text, targets))
            for name in targets:
                view.missing.pop(name, None)
                kinds[name] = "definition" if is_definition else "data"
                uses.pop(name, None)
                heavy_functions.pop(name, None)
            if set(targets) & set(uses) or is_definition:
                closures.clear()   # a function was (re)defined: what calling the others reads may change
            if is_definition and not isinstance(statement, (ast.Import, ast.ImportFrom)):
                uses[statement.name] = body_uses
                body_reason = _heavy(_calls(statement, skip_bodies=False), heavy_functions) if is_function else None
                if body_reason:
                    heavy_functions[statement.name] = body_reason
    missing = set(view.missing)
    for user in uses:
        if user in missing:
            continue
        for name in sorted(uses[user] & missing):   # its own body's: a caller is not named again
            left_out = view.missing[name]
            view.unseen.append(Unseen(user, name, left_out.cell, left_out.line, left_out.reason))
    return view


TOOL_CELLS = ("grader_view", "self_check")   # provided code about the notebook, not the assignment


def _nbgrader(cell: dict) -> dict:
    """A cell's nbgrader metadata, or {} (a submission's metadata can be anything; a grade id that is not text
    names no cell)."""
    metadata = cell.get("metadata") if isinstance(cell, dict) else None
    meta = metadata.get("nbgrader") if isinstance(metadata, dict) else None
    if not isinstance(meta, dict):
        return {}
    return meta if isinstance(meta.get("grade_id"), (str, type(None))) else {
        key: value for key, value in meta.items() if key != "grade_id"}


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else (value or "")


def _ordinal(n: int) -> str:
    return {1: "", 2: "2nd ", 3: "3rd "}.get(n, f"{n}th ")


def notebook_code(submitted: list, reference: list = None) -> tuple:
    """((label, source) of every code cell the grader reads, in order; grade ids of solution cells missing).

    `submitted` and `reference` are notebook cells (dicts, as in the .ipynb file). The order and
    the provided cells come from `reference` (the grader passes the release's cells, so an edited
    provided cell changes nothing), the solution cells and the cells the student added from
    `submitted`. An added cell goes after the last cell with a grade id before it; check cells
    and TOOL_CELLS are left out.
    """
    reference = submitted if reference is None else reference
    known = {_nbgrader(cell).get("grade_id") for cell in reference} - {None}
    solutions, added, anchor = {}, {}, None
    for cell in submitted:
        grade_id = _nbgrader(cell).get("grade_id")
        if grade_id in known:
            anchor = grade_id
            solutions[grade_id] = cell
        elif cell.get("cell_type") == "code":   # no grade id, or one the assignment does not have
            added.setdefault(anchor, []).append(_text(cell.get("source")))

    def added_after(anchor):
        where = f"after {anchor}" if anchor else "at the top"
        return [(f"the {_ordinal(n)}cell you added {where}", source) for n, source in enumerate(added.get(anchor, []), 1)]

    cells, missing = added_after(None), []
    for cell in reference:
        meta = _nbgrader(cell)
        grade_id = meta.get("grade_id")
        is_check = bool(meta.get("grade")) and not meta.get("solution")
        if cell.get("cell_type") == "code" and grade_id and not is_check and grade_id not in TOOL_CELLS:
            if not meta.get("solution"):
                cells.append((grade_id, _text(cell.get("source"))))
            elif grade_id in solutions:
                cells.append((grade_id, _text(solutions[grade_id].get("source"))))
            else:
                missing.append(grade_id)
        if grade_id:
            cells.extend(added_after(grade_id))
    return cells, missing


# What Check 3d prints in a run of the notebook: "3d: best_beta = 1.0; the autograder ...". A best_beta the
# grader cannot compute (chosen from the trained search) is read from there, in the student's own run.
PRINTED_BEST_BETA = re.compile(r"^3d: best_beta = (?P<value>[^;\s]+);", re.M)


def printed_best_beta(cells: list):
    """best_beta as Check 3d printed it (text), or None when it did not print; `cells` as in the .ipynb file."""
    checks = [cell for cell in cells if _nbgrader(cell).get("grade_id") == "p3d_best_beta"]
    if not checks or checks[-1].get("cell_type") != "code":
        return None
    text = "".join(_text(out.get("text")) for out in checks[-1].get("outputs") or []
                   if out.get("output_type") == "stream" and out.get("name") == "stdout")
    found = PRINTED_BEST_BETA.search(text[:10_000])
    return found["value"] if found else None


def explain(unseen: Unseen) -> str:
    """One warning in plain words, with what to do."""
    return (f"{unseen.user} uses {unseen.name}, which is defined by a statement the autograder skips "
            f"({unseen.cell}, line {unseen.line}: {unseen.reason}): define {unseen.name} inside {unseen.user}, "
            f"pass it as an argument, or define it in a cell of its own that neither trains nor plots.")


def warn_unseen(*names: str, cells: list = None) -> list:
    """For a check cell: print what the grader will not have of `names` (the functions it checks).

    Without `cells`, reads the cells this kernel has run (IPython's input history), as the
    notebook stands when you run the check. Returns the warnings printed.
    """
    if cells is None:
        try:
            history = get_ipython().user_ns.get("In", [])   # noqa: F821 (IPython's)
        except NameError:
            return []
        cells = [(f"the cell you ran as [{n}]", source) for n, source in enumerate(history)
                 if source and not source.lstrip().startswith(("# Check", "# Self-check"))]
    view = grader_view(cells)
    warnings = [explain(unseen) for unseen in view.unseen if unseen.user in names]
    if "best_beta" in names and "best_beta" in view.missing:
        left_out = view.missing["best_beta"]
        warnings.append(f"best_beta is computed by a statement the autograder does not run ({left_out.cell}, line "
                        f"{left_out.line}: {left_out.reason}), so the autograder takes the value this check prints "
                        f"from the notebook you submit: submit it with its outputs, after Restart and run all.")
    for warning in warnings:
        print(f"Note for grading: {warning}")
    return warnings
