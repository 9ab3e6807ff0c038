SELECT
    $__timeInterval(ts) AS time,
    if(has(reasons, 'break_glass'), 'break-glass', action) AS kind,
    count() AS events
FROM evidence.access_events FINAL
WHERE $__timeFilter(ts)
    AND (has(reasons, 'break_glass') OR action IN ('export', 'export.download', 'export.cancel'))
GROUP BY time, kind
ORDER BY time, kind
