SELECT
    $__timeInterval(ts) AS time,
    kind,
    count() AS alerts
FROM evidence.alerts FINAL
WHERE $__timeFilter(ts)
GROUP BY time, kind
ORDER BY time, kind
