// What the live view shows, kept outside React: stream messages are buffered as they
// arrive and applied once per animation frame, so 1,000 decisions/s cost one render
// per frame, not one per message.
import type { AggregateMessage, DecisionMessage, StreamMessage, Tier } from "./messages";
import { TIERS } from "./messages";

export const FEED_LIMIT = 5_000;
export const ALERT_LIMIT = 500;
export const SERIES_SECONDS = 15 * 60;
export const SCORE_SAMPLE = 1_000;
export const SCORE_BINS = 20;

/** Per-second series for the charts; null marks a second the console did not see. */
export interface Series {
  time: number[];
  throughput: (number | null)[];
  p50: (number | null)[];
  p99: (number | null)[];
  tierShare: Record<Tier, (number | null)[]>;
}

export interface LiveSnapshot {
  version: number;
  feed: readonly DecisionMessage[];
  alerts: readonly DecisionMessage[];
  latest: AggregateMessage | null;
  series: Series;
  /** Seconds without aggregates across the last reconnect; null until one happens. */
  missedSeconds: number | null;
  dropped: number;
  /** Decisions never shown because frames stopped (a hidden tab) while they arrived. */
  skipped: number;
}

type FrameScheduler = (callback: () => void) => void;

const defaultScheduler: FrameScheduler = (callback) => {
  if (typeof requestAnimationFrame === "function") requestAnimationFrame(() => callback());
  else setTimeout(callback, 16);
};

function emptySeries(): Series {
  return {
    time: [],
    throughput: [],
    p50: [],
    p99: [],
    tierShare: { low: [], medium: [], high: [], critical: [] },
  };
}

export class LiveStore {
  private pending: StreamMessage[] = [];
  private pendingDecisions = 0;
  private skipped = 0;
  private scheduled = false;
  private listeners = new Set<() => void>();
  private lastSecond: number | null = null;
  private awaitingGap = false;
  private snapshot: LiveSnapshot = {
    version: 0,
    feed: [],
    alerts: [],
    latest: null,
    series: emptySeries(),
    missedSeconds: null,
    dropped: 0,
    skipped: 0,
  };

  constructor(
    private readonly schedule: FrameScheduler = defaultScheduler,
    private readonly feedLimit = FEED_LIMIT,
  ) {}

  subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getSnapshot = (): LiveSnapshot => this.snapshot;

  push(message: StreamMessage): void {
    this.pending.push(message);
    // A hidden tab gets no animation frames: keep what the feed could still show, no more.
    if (message.type === "decision" && ++this.pendingDecisions > 2 * this.feedLimit) this.compact();
    if (!this.scheduled) {
      this.scheduled = true;
      this.schedule(() => this.flush());
    }
  }

  /** The connection was lost: the next aggregate tells how many seconds were missed. */
  disconnected(): void {
    if (this.lastSecond !== null) this.awaitingGap = true;
  }

  private compact(): void {
    let keep = this.feedLimit;
    const kept: StreamMessage[] = [];
    for (let i = this.pending.length - 1; i >= 0; i -= 1) {
      const message = this.pending[i] as StreamMessage;
      if (message.type !== "decision") kept.push(message);
      else if (keep > 0) {
        kept.push(message);
        keep -= 1;
      } else this.skipped += 1;
    }
    this.pending = kept.reverse();
    this.pendingDecisions = this.feedLimit;
  }

  flush(): void {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    this.pendingDecisions = 0;
    const decisions: DecisionMessage[] = [];
    let { latest, series, missedSeconds, dropped } = this.snapshot;
    let seriesChanged = false;
    for (const message of batch) {
      if (message.type === "decision") decisions.push(message);
      else if (message.type === "dropped") dropped += message.count;
      else if (message.type === "aggregate") {
        if (!seriesChanged) {
          series = cloneSeries(series);
          seriesChanged = true;
        }
        const second = Date.parse(message.second) / 1000;
        if (this.awaitingGap && this.lastSecond !== null) {
          missedSeconds = Math.max(0, Math.round(second - this.lastSecond) - 1);
          // One empty point breaks the lines: the gap is shown, never filled in.
          if (missedSeconds > 0) appendPoint(series, this.lastSecond + 1, null);
        }
        this.awaitingGap = false;
        if (this.lastSecond === null || second > this.lastSecond) {
          appendPoint(series, second, message);
          this.lastSecond = second;
        }
        latest = message;
      }
    }
    let { feed, alerts } = this.snapshot;
    if (decisions.length > 0) {
      decisions.reverse();
      feed = decisions.concat(feed as DecisionMessage[]).slice(0, this.feedLimit);
      const raised = decisions.filter((d) => d.risk_tier === "high" || d.risk_tier === "critical");
      if (raised.length > 0) alerts = raised.concat(alerts as DecisionMessage[]).slice(0, ALERT_LIMIT);
    }
    if (seriesChanged) trimSeries(series);
    this.snapshot = {
      version: this.snapshot.version + 1,
      feed,
      alerts,
      latest,
      series,
      missedSeconds,
      dropped,
      skipped: this.skipped,
    };
    for (const listener of this.listeners) listener();
  }
}

function cloneSeries(s: Series): Series {
  return {
    time: s.time.slice(),
    throughput: s.throughput.slice(),
    p50: s.p50.slice(),
    p99: s.p99.slice(),
    tierShare: {
      low: s.tierShare.low.slice(),
      medium: s.tierShare.medium.slice(),
      high: s.tierShare.high.slice(),
      critical: s.tierShare.critical.slice(),
    },
  };
}

function appendPoint(s: Series, second: number, a: AggregateMessage | null): void {
  s.time.push(second);
  s.throughput.push(a ? a.count : null);
  s.p50.push(a ? a.latency_ms.p50 : null);
  s.p99.push(a ? a.latency_ms.p99 : null);
  for (const tier of TIERS) {
    const share = a && a.count > 0 ? (100 * (a.tiers[tier] ?? 0)) / a.count : null;
    s.tierShare[tier].push(a ? share : null);
  }
}

function trimSeries(s: Series): void {
  const last = s.time[s.time.length - 1];
  if (last === undefined) return;
  let drop = 0;
  while (drop < s.time.length && (s.time[drop] ?? 0) <= last - SERIES_SECONDS) drop += 1;
  if (drop === 0) return;
  s.time.splice(0, drop);
  s.throughput.splice(0, drop);
  s.p50.splice(0, drop);
  s.p99.splice(0, drop);
  for (const tier of TIERS) s.tierShare[tier].splice(0, drop);
}

/** Counts of the last `sample` scores in `bins` equal bins over [0, 1]. */
export function scoreHistogram(
  feed: readonly DecisionMessage[],
  sample = SCORE_SAMPLE,
  bins = SCORE_BINS,
): number[] {
  const counts = new Array<number>(bins).fill(0);
  const n = Math.min(sample, feed.length);
  for (let i = 0; i < n; i += 1) {
    const score = feed[i]?.score ?? 0;
    const bin = Math.min(bins - 1, Math.max(0, Math.floor(score * bins)));
    counts[bin] = (counts[bin] ?? 0) + 1;
  }
  return counts;
}

/** Sum over currencies, for data-value; the text shows each currency. */
export function total(amounts: Record<string, number> | undefined): number {
  return Object.values(amounts ?? {}).reduce((a, b) => a + b, 0);
}
