SELECT
    $__timeInterval(ts) AS time,
    decision,
    count() AS events
FROM evidence.access_events FINAL
WHERE $__timeFilter(ts)
GROUP BY time, decision
ORDER BY time, decision
