SELECT
    ts AS time,
    if(has(reasons, 'break_glass'), 'break-glass', action) AS kind,
    sub AS principal,
    client_id AS client,
    purpose_of_use AS purpose,
    resource_type AS type,
    decision,
    status,
    length(patient_hashes) AS patients,
    count_returned AS returned,
    request_id
FROM evidence.access_events FINAL
WHERE $__timeFilter(ts)
    AND (has(reasons, 'break_glass') OR action IN ('export', 'export.download', 'export.cancel'))
ORDER BY ts DESC, event_id DESC
LIMIT 200
