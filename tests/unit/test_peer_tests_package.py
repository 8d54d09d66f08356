"""A peer that installs a top-level `tests` package into site-packages cannot stop the suite.

verl's and openrlhf's wheels ship one. The suite runs here with such a package installed in a
site directory (as pip would put it: after the repository on ``sys.path``, and once without the
working directory on it at all, as under the ``pytest`` console script).
"""

import subprocess
import sys

import pytest

from tests.conftest import REPO

# Runs pytest with a site directory (argv[1]) added the way site-packages is; argv[2] says
# whether to drop the working directory from sys.path first.
RUN = (
    "import site, sys; site_dir, keep_cwd, *args = sys.argv[1:]; "
    "sys.path = [p for p in sys.path if p or keep_cwd == '1']; "
    "site.addsitedir(site_dir); import pytest; sys.exit(pytest.main(args))"
)


@pytest.mark.parametrize("keep_cwd", ["1", "0"], ids=["python -m pytest", "pytest script"])
def test_a_peer_tests_package_in_site_packages_does_not_shadow_ours(tmp_path, keep_cwd):
    peer = tmp_path / "site-packages" / "tests"
    peer.mkdir(parents=True)
    (peer / "__init__.py").write_text('"""A peer\'s own test suite."""\n')
    (peer / "conftest.py").write_text("raise RuntimeError('the peer suite was imported')\n")
    done = subprocess.run(
        [
            sys.executable, "-c", RUN, str(peer.parent), keep_cwd,
            "-q", "-p", "no:cacheprovider", "tests/unit/runner/test_cache.py",
            "-k", "keys_depend_on_settings or survive_a_restart",
        ],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout
