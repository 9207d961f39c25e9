-- rollup_token_usage (0124) with the delete of the recomputed periods done per period.
--
-- Measured on the medium world's ingested minute (20 workspaces, 2,000 users each, docs/notes/rollups.md
-- "Session 5"): the step took 1.3 s per workspace for today, 375 ms of it the DELETE. It joined
-- token_usage_periods() (estimated 1,000 rows) to the rows of the touched users, so the plan read
-- every row of those 2,000 users through the (workspace, user, type, start) key, 207k rows for
-- 6,000 deleted, and sorted them for a merge join. Now one DELETE per period (today: its day, week
-- and month) with the period as plain values. Everything else is unchanged (same statement text as
-- 0124).

CREATE OR REPLACE FUNCTION analytics.rollup_token_usage(p_workspace_id uuid, p_days date[])
    RETURNS integer
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    tz      text := analytics.workspace_timezone(p_workspace_id);
    month   record;
    period  record;
    lo      timestamptz;
    hi      timestamptz;
    days_lo timestamptz;
    days_hi timestamptz;
    users   uuid[];
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
        SELECT min(b.period_start), max(b.period_end) INTO lo, hi
        FROM analytics.token_usage_periods(month.days, tz) AS b;
        -- Users whose rows of these periods can have changed: a call on a touched day now, or a
        -- daily row for a touched day from before (its calls may have vanished).
        -- The touched days' calls through one range scan bounded by plain values (first touched day's
        -- local midnight, last one's end), matched to the days by local date. Joining unnest(days)
        -- with per-day bounds left the calls unbounded: every call of the workspace in every
        -- partition × every day as a join filter (1.5M comparisons, 0.5 of 0.83 s per month).
        SELECT min(d)::timestamp AT TIME ZONE tz, (max(d) + 1)::timestamp AT TIME ZONE tz INTO days_lo, days_hi
        FROM unnest(month.days) AS d;
        SELECT array_agg(DISTINCT x.user_id) INTO users
        FROM (
            SELECT l.user_id
            FROM public.llm_usage_logs l
            WHERE l.workspace_id = p_workspace_id AND l.created_at >= days_lo AND l.created_at < days_hi
              AND (l.created_at AT TIME ZONE tz)::date = ANY (month.days)
            UNION
            SELECT t.user_id
            FROM unnest(month.days) AS d
            JOIN analytics.user_token_usage t ON t.workspace_id = p_workspace_id AND t.period_type = 'daily'
                 AND t.period_start = d::timestamp AT TIME ZONE tz
        ) AS x;
        CONTINUE WHEN users IS NULL;

        -- One statement per period with its type and start as plain values: each reads only that
        -- period's rows (a join to the period function read every row of every touched user).
        FOR period IN SELECT b.period_type, b.period_start FROM analytics.token_usage_periods(month.days, tz) AS b LOOP
            DELETE FROM analytics.user_token_usage t
            WHERE t.workspace_id = p_workspace_id AND t.period_type = period.period_type
              AND t.period_start = period.period_start AND t.user_id = ANY (users);
        END LOOP;

        WITH bounds AS (
            SELECT * FROM analytics.token_usage_periods(month.days, tz)
        ), calls AS (
            SELECT l.user_id, l.agent_id, l.run_id, l.prompt_tokens, l.completion_tokens, l.total_tokens,
                   l.total_cost_usd, l.created_at, (l.created_at AT TIME ZONE tz)::date AS day
            FROM unnest(users) AS u(user_id)
            JOIN public.llm_usage_logs l ON l.workspace_id = p_workspace_id AND l.user_id = u.user_id
                 AND l.created_at >= lo AND l.created_at < hi
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
        )
        INSERT INTO analytics.user_token_usage AS t (workspace_id, user_id, period_start, period_end, period_type,
            total_prompt_tokens, total_completion_tokens, total_tokens, total_cost_usd, unpriced_calls,
            message_count, conversation_count, agent_ids, last_activity)
        SELECT p_workspace_id, g.user_id, b.period_start, b.period_end, g.period_type, g.total_prompt_tokens,
               g.total_completion_tokens, g.total_tokens, g.total_cost_usd, g.unpriced_calls, g.message_count,
               g.conversation_count, g.agent_ids, g.last_activity
        FROM grouped g JOIN bounds b ON b.period_type = g.period_type AND b.start_day = g.start_day
        ON CONFLICT ON CONSTRAINT user_token_usage_period_key DO UPDATE SET
            period_end = EXCLUDED.period_end,
            total_prompt_tokens = EXCLUDED.total_prompt_tokens,
            total_completion_tokens = EXCLUDED.total_completion_tokens,
            total_tokens = EXCLUDED.total_tokens, total_cost_usd = EXCLUDED.total_cost_usd,
            unpriced_calls = EXCLUDED.unpriced_calls, message_count = EXCLUDED.message_count,
            conversation_count = EXCLUDED.conversation_count, agent_ids = EXCLUDED.agent_ids,
            last_activity = EXCLUDED.last_activity, updated_at = now();
        GET DIAGNOSTICS n = ROW_COUNT;
        written := written + n;
    END LOOP;
    RETURN written;
END $$;
