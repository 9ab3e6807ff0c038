SELECT
    sub AS principal,
    uniqExactArrayIf(patient_hashes, decision != 'deny') AS distinct_patients,
    count() AS events,
    countIf(decision = 'deny') AS denied,
    countIf(has(reasons, 'break_glass')) AS break_glass,
    uniqExact(client_id) AS clients
FROM evidence.access_events FINAL
WHERE $__timeFilter(ts)
GROUP BY sub
ORDER BY distinct_patients DESC, events DESC, principal
LIMIT 20
