import { describe, expect, it } from "vitest";
import { aggregate, decision } from "../test/fakes";
import type { StreamMessage } from "./messages";
import { LiveStore, scoreHistogram } from "./store";

function manualStore(limit?: number) {
  const frames: (() => void)[] = [];
  const store = new LiveStore((callback) => frames.push(callback), limit);
  const runFrame = () => frames.splice(0).forEach((f) => f());
  return { store, frames, runFrame };
}

const push = (store: LiveStore, message: object) => store.push(message as StreamMessage);

describe("LiveStore", () => {
  it("applies the messages of a frame at once, newest first", () => {
    const { store, frames, runFrame } = manualStore();
    let renders = 0;
    store.subscribe(() => (renders += 1));
    for (let i = 0; i < 10; i += 1) push(store, decision({ transaction_id: `t${i}` }));
    expect(frames).toHaveLength(1); // one frame scheduled for the ten
    expect(store.getSnapshot().feed).toHaveLength(0);
    runFrame();
    expect(renders).toBe(1);
    expect(store.getSnapshot().feed.map((d) => d.transaction_id)).toEqual(
      ["t9", "t8", "t7", "t6", "t5", "t4", "t3", "t2", "t1", "t0"],
    );
  });

  it("keeps only the newest rows", () => {
    const { store, runFrame } = manualStore(5_000);
    for (let i = 0; i < 3_000; i += 1) push(store, decision({ transaction_id: `a${i}` }));
    runFrame();
    for (let i = 0; i < 3_000; i += 1) push(store, decision({ transaction_id: `b${i}` }));
    runFrame();
    const feed = store.getSnapshot().feed;
    expect(feed).toHaveLength(5_000);
    expect(feed[0]?.transaction_id).toBe("b2999");
    expect(feed[4_999]?.transaction_id).toBe("a1000");
  });

  it("bounds what waits for a frame that does not come (a hidden tab)", () => {
    const { store, frames, runFrame } = manualStore(100);
    push(store, aggregate("2026-12-02T10:00:00Z"));
    for (let i = 0; i < 1_000; i += 1) push(store, decision({ transaction_id: `h${i}` }));
    push(store, aggregate("2026-12-02T10:00:01Z", { count: 9 }));
    expect(frames).toHaveLength(1);
    runFrame();
    const { feed, skipped, latest, series } = store.getSnapshot();
    expect(feed).toHaveLength(100);
    expect(feed[0]?.transaction_id).toBe("h999");
    expect(feed[99]?.transaction_id).toBe("h900");
    // Compacted to the newest 100 each time 200 waited: 192 were still waiting at the
    // frame, so 808 were counted as skipped, none lost silently.
    expect(skipped).toBe(808);
    expect(latest?.count).toBe(9); // aggregates are all kept
    expect(series.throughput).toEqual([120, 9]);
  });

  it("keeps high and critical decisions for the alerts panel", () => {
    const { store, runFrame } = manualStore();
    push(store, decision({ transaction_id: "ok" }));
    push(store, decision({ transaction_id: "hot", risk_tier: "critical" }));
    runFrame();
    expect(store.getSnapshot().alerts.map((d) => d.transaction_id)).toEqual(["hot"]);
  });

  it("counts the seconds missed across a reconnect and leaves them empty", () => {
    const { store, runFrame } = manualStore();
    push(store, aggregate("2026-12-02T10:00:00Z"));
    push(store, aggregate("2026-12-02T10:00:01Z"));
    runFrame();
    expect(store.getSnapshot().missedSeconds).toBeNull();
    store.disconnected();
    push(store, aggregate("2026-12-02T10:00:06Z", { count: 7 }));
    runFrame();
    const { missedSeconds, series, latest } = store.getSnapshot();
    expect(missedSeconds).toBe(4); // 02, 03, 04, 05
    expect(latest?.count).toBe(7);
    // One empty point after the last second seen breaks the line; nothing invented.
    expect(series.throughput).toEqual([120, 120, null, 7]);
    expect(series.time[2]).toBe(Date.parse("2026-12-02T10:00:02Z") / 1000);
  });

  it("says zero when the reconnect lost no second", () => {
    const { store, runFrame } = manualStore();
    push(store, aggregate("2026-12-02T10:00:00Z"));
    runFrame();
    store.disconnected();
    push(store, aggregate("2026-12-02T10:00:01Z"));
    runFrame();
    expect(store.getSnapshot().missedSeconds).toBe(0);
    expect(store.getSnapshot().series.throughput).toEqual([120, 120]);
  });

  it("adds up dropped notices", () => {
    const { store, runFrame } = manualStore();
    push(store, { type: "dropped", count: 3 });
    push(store, { type: "dropped", count: 4 });
    runFrame();
    expect(store.getSnapshot().dropped).toBe(7);
  });
});

describe("scoreHistogram", () => {
  it("bins the latest scores", () => {
    const feed = [0, 0.04, 0.5, 0.99, 1].map((score) => decision({ score })) as never[];
    const counts = scoreHistogram(feed, 4, 10);
    expect(counts).toEqual([2, 0, 0, 0, 0, 1, 0, 0, 0, 1]);
  });
});
