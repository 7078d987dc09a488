"""The trust boundary: everything that runs next to student code, and the one policy that confines it.

- policy.py: what untrusted code sees and may do (bubblewrap's allow-list, namespaces, no network);
- limits.py: every number that bounds it (memory, file sizes, processes, time);
- runner.py: run a probe confined and get plain, validated data back;
- kernel.py: the notebook's Jupyter kernel, confined the same way, for nbgrader;
- graph_export.py: inside the sandbox, networks as plain data (a torch.fx trace, layers, weights) that
  autograder/grading/architecture.py rebuilds from a whitelist and runs in the grading process;
- probes.py: trusted code that calls the student's functions inside the sandbox (its data are claims).
"""

from pathlib import Path

PROBE_FILES = ("networks.py", "graph_export.py", "probes.py")   # shipped to every probe, in this order


def probe_source() -> str:
    """The trusted source every probe child executes after the student's code (see runner.py)."""
    return "\n\n".join((Path(__file__).parent / name).read_text() for name in PROBE_FILES)
