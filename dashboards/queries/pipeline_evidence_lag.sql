WITH toUnixTimestamp64Milli(stored_at) - intDiv(ts_us, 1000) AS lag_ms
SELECT
    $__timeInterval(stored_at) AS time,
    quantile(0.5)(lag_ms) AS p50_ms,
    quantile(0.99)(lag_ms) AS p99_ms,
    max(lag_ms) AS max_ms
FROM evidence.access_events
WHERE $__timeFilter(stored_at) AND ts >= $__fromTime - INTERVAL 1 DAY
GROUP BY time
ORDER BY time
