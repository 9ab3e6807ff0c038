SELECT
    a.ts AS first_seen,
    fromUnixTimestamp64Micro(a.last_seen_us, 'UTC') AS last_seen,
    a.kind AS kind,
    a.severity AS severity,
    a.principal AS principal,
    multiIf(
        l.action = 'acknowledge', 'acknowledged',
        l.action = 'suppress' AND l.until_us > toUnixTimestamp64Micro(now64(6)), 'suppressed',
        'open'
    ) AS status,
    a.summary AS summary,
    a.alert_id AS alert_id
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
ORDER BY a.last_seen_us DESC, a.alert_id DESC
LIMIT 100
