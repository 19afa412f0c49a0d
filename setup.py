"""Which packages the distribution holds and where each lives; everything else is in pyproject.toml.

Besides the Python packages (found under the design's top-level folders), two folders ship as package
resources without moving: `sql/` as `fitpipe_sql` (the migrations; fitpipe/migrations.py reads them with
importlib.resources) and the Helm chart `charts/fitpipe/` as `fitpipe_chart` (its CRD and values.yaml;
fitpipe_operator/crd.py). A wheel holds copies; an editable install maps the names to these folders.
"""

from setuptools import find_packages, setup

ROOTS = (".", "operator", "api", "dashboard", "ingest_job")
RESOURCES = {"fitpipe_sql": "sql", "fitpipe_chart": "charts/fitpipe"}

package_dir = {
    name: f"{root}/{name.replace('.', '/')}".removeprefix("./")
    for root in ROOTS
    for name in find_packages(root, include=["fitpipe*"])
}
package_dir.update(RESOURCES)
setup(packages=sorted(package_dir), package_dir=package_dir)
