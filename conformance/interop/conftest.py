"""pytest plumbing for the interop suite: the gort binary, expected
failures, and conformance/INTEROP.md written from the measured errors at
the end of a full run (scripts/interop.sh, make interop)."""
import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, HERE)

import report  # noqa: E402


@pytest.fixture(scope="session")
def gort_bin(tmp_path_factory):
    """GORT_BIN (scripts/interop.sh builds it once), else a fresh build."""
    b = os.environ.get("GORT_BIN")
    if b:
        return b
    b = str(tmp_path_factory.mktemp("bin") / "gort")
    subprocess.run(["go", "build", "-o", b, "./cmd/gort"], cwd=ROOT, check=True)
    return b


def pytest_sessionfinish(session, exitstatus):
    # Only a run of the whole suite rewrites the table (a -k run would drop rows).
    opt = session.config.option
    if opt.keyword or opt.markexpr or os.environ.get("GORT_INTEROP_REPORT") == "0":
        return
    if not report.RESULTS:
        return
    path = os.path.join(ROOT, "conformance", "INTEROP.md")
    with open(path, "w") as f:
        f.write(report.markdown())
    session.config.pluginmanager.get_plugin("terminalreporter").write_line(f"interop: wrote {path}")
