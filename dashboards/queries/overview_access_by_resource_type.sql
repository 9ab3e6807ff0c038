SELECT
    if(resource_type = '', '(none)', resource_type) AS type,
    countIf(decision = 'allow') AS allow,
    countIf(decision = 'partial') AS partial,
    countIf(decision = 'deny') AS deny,
    count() AS total
FROM evidence.access_events FINAL
WHERE $__timeFilter(ts)
GROUP BY type
ORDER BY total DESC, type
LIMIT 25
