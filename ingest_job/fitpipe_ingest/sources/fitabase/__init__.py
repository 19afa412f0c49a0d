"""Fitabase-style exports (`*_merged.csv`, the layout of Kaggle's "Fitbit Fitness Tracker Data"): a file source.

Files and what they become
    heartrate_seconds_merged.csv    Id,Time,Value                 -> heart_rate
    minuteStepsNarrow_merged.csv    Id,ActivityMinute,Steps       -> steps (per minute)
    minuteCaloriesNarrow_merged.csv Id,ActivityMinute,Calories    -> calories (per minute)
    minuteSleep_merged.csv          Id,date,value,logId           -> sleep sessions (classic levels) + sleep_minutes
    dailyActivity_merged.csv        Id,ActivityDate,...           -> very/moderately/lightly active and sedentary minutes
    sleepDay_merged.csv             Id,SleepDay,...               -> read but redundant (daily.py)
Every other file (hourly*, daily{Steps,Calories,Intensities}, *Wide*, minuteMETs, weightLogInfo, ...) is
not known. A file may sit anywhere in the tree; Kaggle's copy holds two month folders.

Participants. Each row names its participant in `Id`; samples, sleep sessions and rejected rows carry
`str(Id)` (whitespace stripped), one SampleBatch per participant and metric. Ingested without
--participant, every Id must exist as a participant's external id in the study. Ingested for one
participant (ctx.participant set, the daily per-participant run), only rows whose Id equals that
participant's external id are read; rows of other Ids are skipped (counted per Id in
ParsedFile.others, so a file holding none of theirs says whose it is).

Time. Times are floating local wall-clock time (`M/D/YYYY h:mm:ss AM`; 24-hour and minute-only variants
are accepted too), read in one time zone: the participant's when ingesting for one participant, else
the zone given to `fitpipe ingest --timezone` (UTC by default). Local times that do not exist (clocks
went forward) are rejected; repeated ones (clocks went back) are resolved by order of appearance per
participant. Daily values are stored at the start of their local day (the toolkit's one rule).

Bad input. Lines and cells are judged one by one (the toolkit's CSV reader): a line with the wrong
number of fields, an unreadable time, a non-numeric value or an Id that cannot be a participant id
becomes a Rejected record ('line N', with the field, the reason and the raw line); the rest loads.
An empty file, a wrong header, binary or UTF-16 data raise InputError.

Memory. heart rate, minute steps and calories files are read in chunks (ParseContext.chunk_bytes):
a several-GB merged export of a whole study streams through the loader with memory bounded by a chunk.
Sleep and daily files (one row per minute of sleep, or per day) are read whole.
"""

from fitpipe_ingest.sources.fitabase.source import HEADERS, SOURCE, FitabaseSource

__all__ = ["HEADERS", "SOURCE", "FitabaseSource"]
