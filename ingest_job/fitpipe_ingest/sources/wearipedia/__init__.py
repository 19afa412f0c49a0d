"""The challenge's wearipedia CSVs (synthetic Fitbit Charge 6 data, cells written as Python repr).

What becomes what:
  activity.csv                      steps (daily total)
  heart_rate.csv / hr.csv           heart_rate (1 s), resting_heart_rate, hr_zone_* (daily)
  spo2.csv                          spo2 (per minute)
  hrv.csv                           hrv_rmssd, hrv_coverage, hrv_hf, hrv_lf (per minute)
  breathing_rate.csv / br.csv       breathing_rate, breathing_rate_deep/_rem/_light (daily)
  active_zone_minutes.csv / azm.csv active_zone_minutes (every minute), azm_fat_burn/_cardio/_peak
                                    (only the minutes that carry the key)
Daily values are stamped at the start of the participant's local day (the toolkit's one rule);
everything else is floating local time converted with the participant's zone, and a local time that
does not exist there is quarantined.

Values: a number, nan and inf included, goes into the batch as it is (the loader quarantines NaN,
Inf and out-of-range values against the metric catalog). Anything that is not a number (None, text,
a cut-off item) is quarantined here with its raw text. Absent optional keys (restingHeartRate, a
sleep stage, a zone key) emit nothing; a missing required key (an HRV field, activeZoneMinutes) is
quarantined. A file that is empty or has the wrong header fails; a row that is cut off is quarantined.

Quirks handled (see the formats notes): np.float64(…)/np.int64(…) wrappers; HRV minutes after
midnight that keep the evening's date; heartRateZones 'minutes' that the generator fills with counts of
1-second samples (four zones summing to 86,400, read as seconds and divided by 60 when the total
cannot be minutes); a trailing user_id column (SampleBatch.participant); a UTF-8 byte-order mark.

Modules: source.py (files, rows), cells.py (repr cells, what a file yields), items.py (intraday lists),
heart_rate.py, daily.py, minutes.py (one per family of files).
"""

from fitpipe_ingest.sources.wearipedia.source import FILE_KINDS, SOURCE, FileKind, WearipediaSource

__all__ = ["FILE_KINDS", "SOURCE", "FileKind", "WearipediaSource"]
