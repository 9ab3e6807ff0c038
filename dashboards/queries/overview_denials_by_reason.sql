SELECT
    reason,
    count() AS denials
FROM evidence.access_events FINAL
ARRAY JOIN reasons AS reason
WHERE $__timeFilter(ts) AND decision = 'deny'
GROUP BY reason
ORDER BY denials DESC, reason
LIMIT 25
