import { describe, expect, it } from "vitest";
import { Coalescer } from "./coalesce";

/** A read whose end the test decides. */
function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe("Coalescer", () => {
  it("runs one read for identical concurrent callers and gives all of them its answer", async () => {
    const reads = new Coalescer<number>();
    const pending = deferred<number>();
    let calls = 0;
    const read = () => {
      calls++;
      return pending.promise;
    };
    const answers = Promise.all([reads.run("a", read), reads.run("a", read), reads.run("a", read)]);
    expect(calls).toBe(1);
    expect(reads.size).toBe(1);
    pending.resolve(42);
    expect(await answers).toEqual([42, 42, 42]);
    expect(reads.counts).toEqual({ started: 1, joined: 2 });
  });

  it("never shares between different keys", async () => {
    const reads = new Coalescer<string>();
    const answers = await Promise.all([
      reads.run("account:1", async () => "one"),
      reads.run("account:2", async () => "two"),
    ]);
    expect(answers).toEqual(["one", "two"]);
    expect(reads.counts).toEqual({ started: 2, joined: 0 });
  });

  it("keeps nothing once a read settled: the next caller reads again", async () => {
    const reads = new Coalescer<number>();
    let value = 1;
    expect(await reads.run("k", async () => value)).toBe(1);
    value = 2;
    expect(reads.size).toBe(0);
    expect(await reads.run("k", async () => value)).toBe(2);
  });

  it("hands a failure to the callers that waited for it, and forgets it", async () => {
    const reads = new Coalescer<number>();
    const pending = deferred<number>();
    const first = reads.run("k", () => pending.promise);
    const second = reads.run("k", () => Promise.resolve(0));
    pending.reject(new Error("statement timeout"));
    await expect(first).rejects.toThrow("statement timeout");
    await expect(second).rejects.toThrow("statement timeout");
    expect(await reads.run("k", async () => 7)).toBe(7);
  });
});
