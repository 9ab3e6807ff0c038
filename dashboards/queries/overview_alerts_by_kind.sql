SELECT
    a.kind AS kind,
    count() AS alerts,
    countIf(l.action = '' OR (l.action = 'suppress' AND l.until_us <= toUnixTimestamp64Micro(now64(6)))) AS open,
    countIf(l.action = 'acknowledge') AS acknowledged,
    countIf(l.action = 'suppress' AND l.until_us > toUnixTimestamp64Micro(now64(6))) AS suppressed,
    countIf(a.severity = 'high') AS high,
    countIf(a.severity = 'medium') AS medium,
    countIf(a.severity = 'low') AS low
FROM evidence.alerts AS a FINAL
LEFT JOIN
(
    SELECT
        alert_id,
        argMax(action, (at_us, request_id)) AS action,
        argMax(until_us, (at_us, request_id)) AS until_us
    FROM evidence.alert_actions FINAL
    GROUP BY alert_id
) AS l ON a.alert_id = l.alert_id
WHERE $__timeFilter(a.ts)
GROUP BY kind
ORDER BY alerts DESC, kind
