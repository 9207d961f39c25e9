-- Retention for the ingest bookkeeping tables, which until now only grew:
--   * public.ingest_idempotency_keys: answers are replayed for 24 hours (the read filters on
--     created_at), so older rows are dead weight; app.purge_expired_ingest_state (0010) deleted
--     them but no job called it.
--   * public.ingest_events: one row per client event id ever accepted (the dedupe set). Keeping it
--     forever costs ~60 bytes per event (heap + primary key) on top of the event itself. The dedupe
--     promise needs a window, not eternity: an id is remembered for as long as the raw rows it
--     produced are kept (default 90 days, like raw activity), after which a re-sent event could
--     not be double-counted against rows that no longer exist.
-- BRIN on received_at: rows arrive in received_at order, so a few pages of summary let the daily
-- purge find the expired range without reading the dedupe index or the whole heap.
CREATE INDEX idx_ingest_events_received_brin ON public.ingest_events USING brin (received_at);

CREATE FUNCTION app.purge_ingest_state(p_answers_keep interval, p_event_ids_keep interval)
RETURNS TABLE (idempotency_answers integer, event_ids integer)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF p_answers_keep < interval '24 hours' THEN
        RAISE EXCEPTION 'idempotency answers must be kept at least 24 hours (the replay window), got %', p_answers_keep
            USING ERRCODE = '22023';
    END IF;
    IF p_event_ids_keep < interval '1 day' THEN
        RAISE EXCEPTION 'event ids must be kept at least 1 day, got %', p_event_ids_keep USING ERRCODE = '22023';
    END IF;
    WITH purged AS (DELETE FROM public.ingest_idempotency_keys WHERE created_at < now() - p_answers_keep RETURNING 1)
    SELECT count(*)::integer INTO idempotency_answers FROM purged;
    WITH purged AS (DELETE FROM public.ingest_events WHERE received_at < now() - p_event_ids_keep RETURNING 1)
    SELECT count(*)::integer INTO event_ids FROM purged;
    RETURN NEXT;
END $$;
REVOKE ALL ON FUNCTION app.purge_ingest_state(interval, interval) FROM PUBLIC;
