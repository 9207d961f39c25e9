-- analytics.log_hist_quantiles (0025) rewritten in PL/pgSQL with the same signature and the same
-- results (same arithmetic on the same values, see below).
--
-- Why: the SQL version planned and ran a CTE pipeline (group, window sum, two correlated subqueries
-- per fraction over the cumulative CTE) on every call, ~1 ms per call even for a 150-key histogram.
-- The catalogue calls it once per bucket and series (30 calls for "p95 by day over 30 days"), so a
-- percentile chart cost ~30 ms of pure function overhead. Here one query merges and sorts the keys;
-- the ranks are then found by walking the sorted arrays in PL/pgSQL (a few hundred keys at most:
-- keys are 1 %-wide log buckets, ~240 of them between 1 s and 2 min).
--
-- Semantics kept exactly: keys NULL or counts ≤ 0 are ignored; an empty histogram gives a NULL per
-- fraction; pos = fraction × (n − 1); value = (1 − (pos − ⌊pos⌋)) × v(key holding rank ⌊pos⌋)
-- + (pos − ⌊pos⌋) × v(key holding rank ⌈pos⌉), v = analytics.log_hist_value; a rank outside
-- [0, n − 1] (fraction outside [0, 1]) or a NULL fraction gives NULL; NULL or empty p_fractions
-- gives NULL (array_agg over no rows).
-- The key holding 0-based rank p_rank of a histogram given as keys ascending with their counts;
-- NULL when the rank is outside [0, total − 1].
CREATE FUNCTION analytics.log_hist_key_at_rank(p_keys integer[], p_counts bigint[], p_rank double precision)
    RETURNS integer
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    below bigint := 0;
    i integer;
BEGIN
    IF p_rank IS NULL OR p_rank < 0 THEN
        RETURN NULL;
    END IF;
    FOR i IN 1 .. coalesce(cardinality(p_keys), 0) LOOP
        IF p_rank < below + p_counts[i] THEN
            RETURN p_keys[i];
        END IF;
        below := below + p_counts[i];
    END LOOP;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION analytics.log_hist_quantiles(p_keys integer[], p_counts integer[], p_fractions double precision[])
    RETURNS double precision[]
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    merged_keys integer[];
    merged_counts bigint[];
    total bigint;
    result double precision[];
    fraction double precision;
    pos double precision;
    lo_key integer;
    hi_key integer;
BEGIN
    IF p_fractions IS NULL OR cardinality(p_fractions) = 0 THEN
        RETURN NULL;
    END IF;
    SELECT array_agg(m.k ORDER BY m.k), array_agg(m.c ORDER BY m.k), coalesce(sum(m.c), 0)
      INTO merged_keys, merged_counts, total
    FROM (SELECT u.k, sum(u.c)::bigint AS c
          FROM unnest(p_keys, p_counts) AS u(k, c)
          WHERE u.k IS NOT NULL AND u.c > 0
          GROUP BY u.k) m;
    result := '{}';
    FOREACH fraction IN ARRAY p_fractions LOOP
        IF total = 0 OR fraction IS NULL THEN
            result := result || NULL::double precision;
            CONTINUE;
        END IF;
        pos := fraction * (total - 1)::double precision;
        lo_key := analytics.log_hist_key_at_rank(merged_keys, merged_counts, floor(pos));
        hi_key := analytics.log_hist_key_at_rank(merged_keys, merged_counts, ceil(pos));
        result := result || ((1 - (pos - floor(pos))) * analytics.log_hist_value(lo_key)
                             + (pos - floor(pos)) * analytics.log_hist_value(hi_key));
    END LOOP;
    RETURN result;
END $$;
