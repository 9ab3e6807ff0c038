SELECT
    count() AS events,
    countIf(decision = 'allow') AS allowed,
    countIf(decision = 'partial') AS partial,
    countIf(decision = 'deny') AS denied,
    uniqExact(sub) AS principals,
    uniqExactArrayIf(patient_hashes, decision != 'deny') AS patients
FROM evidence.access_events FINAL
WHERE $__timeFilter(ts)
