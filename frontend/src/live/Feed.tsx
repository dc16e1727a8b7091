// The live feed: newest first, bounded by the store, virtualised, pausable, filtered.
import { useVirtualizer } from "@tanstack/react-virtual";
import { useMemo, useRef, useState } from "react";
import { navigate, transactionPath } from "../route";
import { DECISIONS, type DecisionMessage, TIERS } from "./messages";
import { useLiveSnapshot } from "./useLive";

const ROW_HEIGHT = 30;

export interface FeedFilter {
  tier: string;
  decision: string;
  rule: string;
}

export function matches(row: DecisionMessage, filter: FeedFilter): boolean {
  if (filter.tier && row.risk_tier !== filter.tier) return false;
  if (filter.decision && row.decision !== filter.decision) return false;
  if (filter.rule) {
    const wanted = filter.rule.trim().toLowerCase();
    const source = (row.decision_source ?? "").toLowerCase();
    const hit = (row.rules ?? []).some((r) => r.id.toLowerCase().includes(wanted));
    if (!hit && !source.includes(wanted)) return false;
  }
  return true;
}

export function Feed() {
  const { feed } = useLiveSnapshot();
  const [paused, setPaused] = useState<readonly DecisionMessage[] | null>(null);
  const [filter, setFilter] = useState<FeedFilter>({ tier: "", decision: "", rule: "" });
  const shown = paused ?? feed;
  const rows = useMemo(() => shown.filter((row) => matches(row, filter)), [shown, filter]);
  const waiting = paused ? Math.max(0, feed.indexOf(paused[0] as DecisionMessage)) : 0;
  const scroller = useRef<HTMLDivElement>(null);
  const virtual = useVirtualizer({
    count: rows.length,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 10,
    initialRect: { width: 800, height: 480 },
  });
  const open = (row: DecisionMessage) => navigate(transactionPath(row.transaction_id, row.scope));
  return (
    <section className="feed-panel" aria-label="Live decisions">
      <div className="feed-controls">
        <button
          type="button"
          data-testid="feed-pause"
          aria-pressed={paused !== null}
          onClick={() => setPaused(paused ? null : feed)}
        >
          {paused ? `Resume${waiting ? ` (${waiting}+ new)` : ""}` : "Pause"}
        </button>
        <label>
          Tier{" "}
          <select
            data-testid="feed-filter-tier"
            value={filter.tier}
            onChange={(e) => setFilter({ ...filter, tier: e.target.value })}
          >
            <option value="">all</option>
            {TIERS.map((t) => (
              <option key={t}>{t}</option>
            ))}
          </select>
        </label>
        <label>
          Decision{" "}
          <select
            data-testid="feed-filter-decision"
            value={filter.decision}
            onChange={(e) => setFilter({ ...filter, decision: e.target.value })}
          >
            <option value="">all</option>
            {DECISIONS.map((d) => (
              <option key={d}>{d}</option>
            ))}
          </select>
        </label>
        <label>
          Rule{" "}
          <input
            data-testid="feed-filter-rule"
            placeholder="rule id"
            value={filter.rule}
            onChange={(e) => setFilter({ ...filter, rule: e.target.value })}
          />
        </label>
        <span className="muted">
          {rows.length} of {shown.length} shown (latest {feed.length} kept)
        </span>
      </div>
      <div className="feed-head" aria-hidden="true">
        <span>time</span>
        <span>transaction</span>
        <span>card</span>
        <span>amount</span>
        <span>score</span>
        <span>tier</span>
        <span>decision</span>
        <span>source</span>
      </div>
      <div className="feed" data-testid="feed" ref={scroller} role="list" aria-label="Decisions, newest first">
        <div style={{ height: virtual.getTotalSize(), position: "relative" }}>
          {virtual.getVirtualItems().map((item) => {
            const row = rows[item.index];
            if (!row) return null;
            return (
              <div
                key={item.key}
                role="listitem"
                tabIndex={0}
                aria-setsize={rows.length}
                aria-posinset={item.index + 1}
                data-testid="feed-row"
                data-transaction-id={row.transaction_id}
                data-tier={row.risk_tier}
                className={`feed-row tier-row-${row.risk_tier}`}
                style={{ transform: `translateY(${item.start}px)`, height: ROW_HEIGHT }}
                onClick={() => open(row)}
                onKeyDown={(e) => {
                  if (e.key === "Enter") open(row);
                }}
              >
                <span>{row.scored_at.slice(11, 19)}</span>
                <span className="mono">{row.transaction_id}</span>
                <span className="mono">{row.card_id}</span>
                <span>
                  {row.amount.toFixed(2)} {row.currency}
                </span>
                <span>{row.score.toFixed(3)}</span>
                <span className={`tier tier-${row.risk_tier}`}>{row.risk_tier}</span>
                <span>{row.decision}</span>
                <span className="mono">{row.decision_source ?? ""}</span>
              </div>
            );
          })}
        </div>
      </div>
    </section>
  );
}
