"""A realistic synthetic cohort (`fitpipe synth`) for the demo, tests and benchmarks, written in the
real exports' formats so the same parsers read it.

profiles     who is in the cohort: physiology, habits, adherence kinds (excellent … poor, dropout,
             late sync, no data) and how they are assigned
sleep        nights and naps: timing, 30-s stages, the Fitbit sleep log
wear         non-wear: charging, daytime gaps, nights off, days at home, dropouts
activity     exercise bouts, steps per minute, heart-rate zones
heart_rate   the 1-s signal (daily rhythm, sleep, activity, AR(1) noise) and device-like sampling
nightly      HRV, SpO2 and breathing rate of a logged main sleep
participant  one participant simulated local day by local day
cohort       orchestration: participants.csv, one folder per participant, processes
writers/     takeout (Google Takeout Fitbit folder) and wearipedia (the challenge's CSVs)
"""
