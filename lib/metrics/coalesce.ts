/**
 * Request coalescing ("single flight") for identical concurrent reads: while a read for a key is
 * running, every other caller asking for the same key gets that read's promise instead of starting
 * its own. Nothing is kept once the read settles — this is not a cache, so no answer is ever older
 * than the read that was already under way when the caller arrived, and a failure reaches exactly
 * the callers that were waiting for it.
 *
 * Why: a team opening the same dashboard fires the same handful of catalogue queries at once (fifty
 * viewers of one workspace in the load test). Without coalescing each waits its turn in the read
 * pool to compute the same rows; with it, one computes and all answer. Grafana's query
 * deduplication and CDN request collapsing do the same.
 *
 * The key must contain everything the answer depends on, including who asks: row-level security
 * makes the same query answer differently for different readers.
 */
export class Coalescer<T> {
  private readonly inFlight = new Map<string, Promise<T>>();
  /** Reads started, and callers that joined one already under way (benchmarks report the ratio). */
  readonly counts = { started: 0, joined: 0 };

  /** Joins the running read for `key`, or starts `read` and lets later callers join it. */
  run(key: string, read: () => Promise<T>): Promise<T> {
    const running = this.inFlight.get(key);
    if (running) {
      this.counts.joined++;
      return running;
    }
    this.counts.started++;
    const started = read().finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, started);
    return started;
  }

  /** Reads under way (for tests and diagnostics). */
  get size(): number {
    return this.inFlight.size;
  }
}
