"""The run use-cases, above the sources and the loader: `fitpipe ingest` (one input), `fitpipe run` (the daily
job: inbox and Google Health API) and `fitpipe backfill`, each recorded as one run by one recorder.

Modules: files.py (one input tree, file by file, each file isolated), inbox.py (every participant's
folder), ingest.py / daily.py / backfill.py (the use-cases), runs.py (the run record), outcome.py (what
a use-case returns), options.py (knobs from the settings), errors.py (the database going away).
"""

from fitpipe_ingest.pipeline.backfill import backfill
from fitpipe_ingest.pipeline.daily import daily_run
from fitpipe_ingest.pipeline.errors import DatabaseLost
from fitpipe_ingest.pipeline.files import FileRules, ingest_tree
from fitpipe_ingest.pipeline.ingest import ingest_input
from fitpipe_ingest.pipeline.outcome import RunOutcome

__all__ = ["DatabaseLost", "FileRules", "RunOutcome", "backfill", "daily_run", "ingest_input", "ingest_tree"]
