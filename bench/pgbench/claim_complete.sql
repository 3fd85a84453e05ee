-- The floor of the job queue: the claim and the completion of the bench's workers (the same
-- two statements as `domain::agent_jobs::Worker::claim` and `ClaimedJob::complete`, each in
-- its own implicit transaction), run by pgbench:
--   pgbench -n -M prepared -c 8 -j 2 -t 2500 -f claim_complete.sql <database>
-- The claim returns the whole row, as the domain's does; \gset keeps it in j_* variables.
UPDATE agent_jobs SET status = 'PROCESSING', locked_by = 'pgbench-' || :client_id, started_at = now(), heartbeat_at = now(), progress = 0, current_step = NULL, updated_at = now(), attempts = attempts + 1 WHERE id = (SELECT id FROM agent_jobs WHERE status = 'PENDING' AND run_at <= now() ORDER BY priority DESC, run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED) AND status = 'PENDING' RETURNING id, store_id, type, status, priority, input, output, error, started_at, completed_at, progress, current_step, created_at, updated_at, attempts, max_attempts, run_at, locked_by, heartbeat_at \gset j_
UPDATE agent_jobs SET status = 'COMPLETED', output = '{"products":[{"source_id":"1005006","title":"Neon Lamp","url":"https://www.aliexpress.com/item/1005006.html","cost_price":"12.50"}]}', error = NULL, progress = 100, completed_at = now(), heartbeat_at = NULL, updated_at = now() WHERE id = :j_id AND status = 'PROCESSING' AND locked_by = :j_locked_by AND attempts = :j_attempts;
