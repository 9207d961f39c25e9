-- rollup_token_usage (0138) computes each recomputed period (a touched day, its week, its month) with
-- its own statement over that period's calls, instead of one GROUPING SETS over the whole month.
--
-- Why: the GROUPING SETS statement read every call of the month (and of weeks crossing it) and built
-- the daily groups of every day of the month, although only the touched days were kept by the join
-- to the periods; the DISTINCT aggregates (conversations, agents) sort, and PostgreSQL sorts each
-- grouping set separately, so the month's calls were sorted three times. In the incremental cycle
-- one call recomputes today, this week and this month: 0138 sorted the month three times (daily,
-- weekly, monthly groups); this sorts today's, this week's and this month's calls once each.
-- Measured on the medium world's ingested minute (docs/notes/rollups.md, "Session 6").
--
-- A rebuild hands the step whole months (rebuildPeriod "month"): every day, week and month of them is
-- then one statement, each sorting one period's calls (a day of a workspace fits in work_mem; the
-- month's sorts spilled to disk before).
--
-- Same contract, columns and results as 0026/0124/0138: per period, the calls of the touched users
-- in [period_start, period_end), grouped by user.

CREATE OR REPLACE FUNCTION analytics.rollup_token_usage(p_workspace_id uuid, p_days date[])
    RETURNS integer
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    SET work_mem = '64MB'
    -- Each statement's range is a variable: plan it with its values (the range decides the scan).
    SET plan_cache_mode = force_custom_plan
AS $$
DECLARE
    tz      text := analytics.workspace_timezone(p_workspace_id);
    month   record;
    period  record;
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
        -- Users whose rows of these periods can have changed: a call on a touched day now, or a
        -- daily row for a touched day from before (its calls may have vanished). (As in 0124.)
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

        FOR period IN
            SELECT b.period_type, b.period_start, b.period_end
            FROM analytics.token_usage_periods(month.days, tz) AS b
            ORDER BY b.period_start, b.period_type
        LOOP
            DELETE FROM analytics.user_token_usage t
            WHERE t.workspace_id = p_workspace_id AND t.period_type = period.period_type
              AND t.period_start = period.period_start AND t.user_id = ANY (users);

            INSERT INTO analytics.user_token_usage AS t (workspace_id, user_id, period_start, period_end, period_type,
                total_prompt_tokens, total_completion_tokens, total_tokens, total_cost_usd, unpriced_calls,
                message_count, conversation_count, agent_ids, last_activity)
            SELECT p_workspace_id, l.user_id, period.period_start, period.period_end, period.period_type,
                   sum(l.prompt_tokens)::bigint, sum(l.completion_tokens)::bigint, sum(l.total_tokens)::bigint,
                   coalesce(sum(l.total_cost_usd), 0),
                   count(*) FILTER (WHERE l.total_cost_usd IS NULL)::integer,
                   count(*)::integer,
                   count(DISTINCT l.run_id)::integer,
                   coalesce(array_agg(DISTINCT l.agent_id ORDER BY l.agent_id) FILTER (WHERE l.agent_id IS NOT NULL), '{}'),
                   max(l.created_at)
            FROM unnest(users) AS u(user_id)
            JOIN public.llm_usage_logs l ON l.workspace_id = p_workspace_id AND l.user_id = u.user_id
                 AND l.created_at >= period.period_start AND l.created_at < period.period_end
            GROUP BY l.user_id
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
    END LOOP;
    RETURN written;
END $$;
