-- analytics.user_token_usage (spec 002): daily, weekly (ISO, Monday start) and monthly rows per
-- tracked user, in the workspace's timezone. period_start/period_end are the local midnights that
-- open and close the period, as instants.
--
-- Attribution (spec defect 8): a call belongs to llm_usage_logs.user_id, the tracked user on whose
-- behalf it was made — never to the agent that answered (agent_id only lists "agents used") and
-- not to the owner of the run the call references.
-- Columns: tokens are summed over all calls; total_cost_usd over priced calls only (NULL cost =
-- unpriced, counted in unpriced_calls, never a silent $0); message_count = calls;
-- conversation_count = distinct runs referenced by the calls (calls without a run count in
-- message_count only); agent_ids = distinct agents, sorted; last_activity = the latest call.
--
-- Day step of the rollup engine: recomputing a day recomputes that day's row and the rows of the
-- week and the month holding it, straight from raw calls (distinct runs and agents are not additive
-- across days, so weeks and months are not summed from days). The touched days are handled per
-- month: one scan of [min(month start, first touched week start), max(month end, last touched week
-- end)) computes the day, week and month groups at once with GROUPING SETS; only the periods that
-- hold a touched day are written, and rows of those periods whose calls vanished are deleted.
CREATE FUNCTION analytics.rollup_token_usage(p_workspace_id uuid, p_days date[])
    RETURNS integer
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tz      text := analytics.workspace_timezone(p_workspace_id);
    month   record;
    written integer := 0;
    n       integer;
BEGIN
    IF p_workspace_id IS NULL THEN
        RAISE EXCEPTION 'user_token_usage is per workspace' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR month IN
        SELECT array_agg(DISTINCT d) AS days
        FROM unnest(p_days) AS d WHERE d IS NOT NULL
        GROUP BY date_trunc('month', d::timestamp)
    LOOP
        WITH periods AS (
            SELECT DISTINCT p.period_type, p.start_day, p.end_day
            FROM unnest(month.days) AS d
            CROSS JOIN LATERAL (VALUES
                ('daily', d, d + 1),
                ('weekly', date_trunc('week', d::timestamp)::date, date_trunc('week', d::timestamp)::date + 7),
                ('monthly', date_trunc('month', d::timestamp)::date, (date_trunc('month', d::timestamp) + interval '1 month')::date)
            ) AS p(period_type, start_day, end_day)
        ), bounds AS (
            SELECT period_type, start_day, start_day::timestamp AT TIME ZONE tz AS period_start,
                   end_day::timestamp AT TIME ZONE tz AS period_end
            FROM periods
        ), scan AS (
            SELECT min(period_start) AS lo, max(period_end) AS hi FROM bounds
        ), calls AS (
            SELECT l.user_id, l.agent_id, l.run_id, l.prompt_tokens, l.completion_tokens, l.total_tokens,
                   l.total_cost_usd, l.created_at, (l.created_at AT TIME ZONE tz)::date AS day
            FROM scan JOIN public.llm_usage_logs l
              ON l.workspace_id = p_workspace_id AND l.created_at >= scan.lo AND l.created_at < scan.hi
        ), grouped AS (
            SELECT CASE WHEN GROUPING(day) = 0 THEN 'daily'
                        WHEN GROUPING(date_trunc('week', day::timestamp)) = 0 THEN 'weekly'
                        ELSE 'monthly' END AS period_type,
                   coalesce(day, date_trunc('week', day::timestamp)::date, date_trunc('month', day::timestamp)::date) AS start_day,
                   user_id,
                   sum(prompt_tokens)::bigint AS total_prompt_tokens,
                   sum(completion_tokens)::bigint AS total_completion_tokens,
                   sum(total_tokens)::bigint AS total_tokens,
                   coalesce(sum(total_cost_usd), 0) AS total_cost_usd,
                   count(*) FILTER (WHERE total_cost_usd IS NULL)::integer AS unpriced_calls,
                   count(*)::integer AS message_count,
                   count(DISTINCT run_id)::integer AS conversation_count,
                   coalesce(array_agg(DISTINCT agent_id ORDER BY agent_id) FILTER (WHERE agent_id IS NOT NULL), '{}') AS agent_ids,
                   max(created_at) AS last_activity
            FROM calls
            GROUP BY GROUPING SETS ((user_id, day), (user_id, date_trunc('week', day::timestamp)), (user_id, date_trunc('month', day::timestamp)))
        ), fresh AS (
            SELECT g.*, b.period_start, b.period_end
            FROM grouped g JOIN bounds b ON b.period_type = g.period_type AND b.start_day = g.start_day
        ), upserted AS (
            INSERT INTO analytics.user_token_usage AS t (workspace_id, user_id, period_start, period_end, period_type,
                total_prompt_tokens, total_completion_tokens, total_tokens, total_cost_usd, unpriced_calls,
                message_count, conversation_count, agent_ids, last_activity)
            SELECT p_workspace_id, user_id, period_start, period_end, period_type, total_prompt_tokens,
                   total_completion_tokens, total_tokens, total_cost_usd, unpriced_calls, message_count,
                   conversation_count, agent_ids, last_activity
            FROM fresh
            ON CONFLICT ON CONSTRAINT user_token_usage_period_key DO UPDATE SET
                period_end = EXCLUDED.period_end,
                total_prompt_tokens = EXCLUDED.total_prompt_tokens,
                total_completion_tokens = EXCLUDED.total_completion_tokens,
                total_tokens = EXCLUDED.total_tokens, total_cost_usd = EXCLUDED.total_cost_usd,
                unpriced_calls = EXCLUDED.unpriced_calls, message_count = EXCLUDED.message_count,
                conversation_count = EXCLUDED.conversation_count, agent_ids = EXCLUDED.agent_ids,
                last_activity = EXCLUDED.last_activity, updated_at = now()
            WHERE (t.period_end, t.total_prompt_tokens, t.total_completion_tokens, t.total_tokens, t.total_cost_usd,
                   t.unpriced_calls, t.message_count, t.conversation_count, t.agent_ids, t.last_activity)
                  IS DISTINCT FROM (EXCLUDED.period_end, EXCLUDED.total_prompt_tokens, EXCLUDED.total_completion_tokens,
                   EXCLUDED.total_tokens, EXCLUDED.total_cost_usd, EXCLUDED.unpriced_calls, EXCLUDED.message_count,
                   EXCLUDED.conversation_count, EXCLUDED.agent_ids, EXCLUDED.last_activity)
            RETURNING 1
        ), deleted AS (
            DELETE FROM analytics.user_token_usage t
            USING bounds b
            WHERE t.workspace_id = p_workspace_id AND t.period_type = b.period_type AND t.period_start = b.period_start
              AND NOT EXISTS (SELECT 1 FROM fresh f
                              WHERE f.period_type = t.period_type AND f.period_start = t.period_start AND f.user_id = t.user_id)
            RETURNING 1
        )
        SELECT (SELECT count(*) FROM upserted) + (SELECT count(*) FROM deleted) INTO n;
        written := written + n;
    END LOOP;
    RETURN written;
END $$;
REVOKE EXECUTE ON FUNCTION analytics.rollup_token_usage(uuid, date[]) FROM PUBLIC;
