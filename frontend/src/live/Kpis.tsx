import { DECISIONS, TIERS } from "./messages";
import { total } from "./store";
import { useLiveSnapshot } from "./useLive";

function money(amounts: Record<string, number> | undefined): string {
  const entries = Object.entries(amounts ?? {});
  if (entries.length === 0) return "0";
  return entries
    .map(([currency, amount]) => `${amount.toLocaleString(undefined, { maximumFractionDigits: 2 })} ${currency}`)
    .join(" · ");
}

function Kpi({ id, label, value, text }: { id: string; label: string; value: number | null; text: string }) {
  return (
    <div className="kpi" data-testid={id} data-value={value ?? ""}>
      <span className="kpi-label">{label}</span>
      <span className="kpi-value">{text}</span>
    </div>
  );
}

const ms = (v: number | null | undefined) => (v == null ? "–" : `${v.toFixed(2)} ms`);
const pct = (part: number, whole: number) => (whole > 0 ? `${Math.round((100 * part) / whole)}%` : "–");

/** The last complete second, from the stream's aggregate messages. */
export function Kpis() {
  const { latest } = useLiveSnapshot();
  const count = latest?.count ?? null;
  return (
    <section className="kpis" aria-label="Key figures, last second">
      <Kpi id="kpi-throughput" label="Decisions/s" value={count} text={count == null ? "–" : String(count)} />
      <Kpi id="kpi-p50" label="p50 latency" value={latest?.latency_ms.p50 ?? null} text={ms(latest?.latency_ms.p50)} />
      <Kpi id="kpi-p99" label="p99 latency" value={latest?.latency_ms.p99 ?? null} text={ms(latest?.latency_ms.p99)} />
      <Kpi
        id="kpi-degraded"
        label="Degraded"
        value={latest?.degraded ?? null}
        text={latest ? String(latest.degraded) : "–"}
      />
      <Kpi
        id="kpi-declined-amount"
        label="Declined amount"
        value={latest ? total(latest.declined_amount) : null}
        text={latest ? money(latest.declined_amount) : "–"}
      />
      <Kpi
        id="kpi-review-amount"
        label="Sent to review"
        value={latest ? total(latest.review_amount) : null}
        text={latest ? money(latest.review_amount) : "–"}
      />
      <div className="kpi shares">
        <span className="kpi-label">Tiers</span>
        <span>
          {TIERS.map((t) => (
            <span key={t} className={`tier tier-${t}`} data-testid={`kpi-tier-${t}`}>
              {t} {latest ? pct(latest.tiers[t] ?? 0, latest.count) : "–"}
            </span>
          ))}
        </span>
      </div>
      <div className="kpi shares">
        <span className="kpi-label">Decisions</span>
        <span>
          {DECISIONS.map((d) => (
            <span key={d} className="share" data-testid={`kpi-decision-${d}`}>
              {d} {latest ? pct(latest.decisions[d] ?? 0, latest.count) : "–"}
            </span>
          ))}
        </span>
      </div>
    </section>
  );
}
