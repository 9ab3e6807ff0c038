SELECT
    $__timeInterval(stored_at) AS time,
    producer_id AS producer,
    count() * 60 / $__interval_s AS rows_per_minute
FROM evidence.access_events
WHERE $__timeFilter(stored_at) AND ts >= $__fromTime - INTERVAL 1 DAY
GROUP BY time, producer
ORDER BY time, producer
