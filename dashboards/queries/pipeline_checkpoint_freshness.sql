SELECT
    if(c.producer_id != '', c.producer_id, e.producer_id) AS producer,
    if(c.producer_id != '', c.last_checkpoint, NULL) AS last_checkpoint,
    if(c.producer_id != '', dateDiff('second', c.last_checkpoint, $__toTime), NULL) AS checkpoint_age_s,
    c.sealed AS sealed_events,
    e.last_sequence AS last_sequence,
    greatest(e.last_sequence, c.sealed) - c.sealed AS unsealed_events
FROM
(
    SELECT producer_id, max(ts) AS last_checkpoint, max(tree_size) AS sealed
    FROM evidence.checkpoints
    WHERE $__timeFilter(ts)
    GROUP BY producer_id
) AS c
FULL OUTER JOIN
(
    SELECT producer_id, max(sequence) AS last_sequence
    FROM evidence.access_events
    WHERE $__timeFilter(ts)
    GROUP BY producer_id
) AS e ON c.producer_id = e.producer_id
ORDER BY producer
