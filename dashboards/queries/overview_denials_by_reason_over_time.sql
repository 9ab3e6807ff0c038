SELECT
    $__timeInterval(ts) AS time,
    reason,
    count() AS denials
FROM evidence.access_events FINAL
ARRAY JOIN reasons AS reason
WHERE $__timeFilter(ts) AND decision = 'deny'
GROUP BY time, reason
ORDER BY time, reason
