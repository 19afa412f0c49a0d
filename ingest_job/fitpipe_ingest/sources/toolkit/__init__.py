"""What every file source uses, so a source holds only its format's own knowledge.

csv_reader.py  the one CSV reader (Arrow fast path, line-numbered careful path that keeps the raw line)
json_arrays.py JSON files that are arrays of records (typed fast path, record-by-record careful path)
stamps.py      fixed-layout timestamp text to microseconds, vectorised
collector.py   what a file yields: batches, sleep, rejected records; wall clock to UTC; the day-start rule
text.py        whole-file checks (BOM, UTF-16, binary, empty); sniff.py what an unknown file looks like
"""
