"""The challenge notebook's extraction, run by wearipedia's own interpreter; fitpipe never imports it.

python wearipedia_notebook.py OUT_DIR START END SEED      (dates YYYY-MM-DD, END inclusive)
"""

from __future__ import annotations

import sys
from datetime import date, timedelta
from pathlib import Path

# file name -> data type of wearipedia 0.1.7's fitbit_charge_6, as the challenge saves them
FILES = {
    "activity.csv": "intraday_activity",
    "breathing_rate.csv": "intraday_breath_rate",
    "heart_rate.csv": "intraday_heart_rate",
    "spo2.csv": "intraday_spo2",
    "hrv.csv": "intraday_hrv",
    "active_zone_minutes.csv": "intraday_active_zone_minute",
}


def main(out: Path, start: str, end: str, seed: int) -> None:
    import numpy as np
    import pandas as pd
    import wearipedia

    # wearipedia seeds only `random`, always with 0; its numpy draws (heart rate, SpO2, HRV, breathing
    # rate) are unseeded, so the notebook's files differ on every run. Seeding numpy makes them repeatable.
    np.random.seed(seed)
    # the synthetic range is end-exclusive and the intraday types ignore get_data's dates, so the
    # device is built over exactly [start, end]; get_data gets the notebook's params unchanged
    after_end = (date.fromisoformat(end) + timedelta(days=1)).isoformat()
    device = wearipedia.get_device(
        "fitbit/fitbit_charge_6", seed=seed, synthetic_start_date=start, synthetic_end_date=after_end
    )
    params = {"seed": seed, "start_date": start, "end_date": end}
    for name, data_type in FILES.items():
        data = device.get_data(data_type, params)
        pd.DataFrame(data).to_csv(out / name, index=False)
        print(f"wrote {name} ({len(data)} rows)", file=sys.stderr, flush=True)


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4]))
