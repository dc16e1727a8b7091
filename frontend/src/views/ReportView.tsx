// Performance: the weekly figures of GET /v1/reports/performance (`fraud report`'s), the
// period's headline from the mature weeks only, and the business view per currency.
// Immature weeks are marked, never mixed into the headline (docs/reports.md).
import { useCallback, useEffect, useState } from "react";
import { api, errorText, type Schemas } from "../api/client";

type Report = Schemas["PerformanceReportOut"];
type Figures = Schemas["FiguresOut"];

const WEEK_MS = 7 * 24 * 3600 * 1000;

/** Monday 00:00 UTC of the week after `now`, as YYYY-MM-DD: the default end of the period. */
export function nextMonday(now: Date): string {
  const day = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  const weekday = (now.getUTCDay() + 6) % 7; // Monday 0
  return new Date(day + WEEK_MS - weekday * 24 * 3600 * 1000).toISOString().slice(0, 10);
}

function weeksBefore(date: string, weeks: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) - weeks * WEEK_MS).toISOString().slice(0, 10);
}

const rate = (v: number | null | undefined) => (v == null ? "–" : `${(100 * v).toFixed(1)}%`);
const ratio = (v: number | null | undefined) => (v == null ? "–" : v.toFixed(3));
const money = (v: number) => v.toLocaleString("en", { minimumFractionDigits: 2, maximumFractionDigits: 2 });

function labels(f: Figures): string {
  return f.mature ? `known ${Math.floor(f.label_age_days)} d after` : "immature";
}

function QualityRow({ f }: { f: Figures }) {
  return (
    <tr data-testid="report-row" data-mature={String(f.mature)} className={f.mature ? "" : "immature"}>
      <td>{f.name}</td>
      <td>{labels(f)}</td>
      <td className="num">{f.decisions}</td>
      <td className="num">{f.fraud}</td>
      <td className="num">{f.pending}</td>
      <td className="num">{ratio(f.average_precision)}</td>
      <td className="num">{rate(f.precision)}</td>
      <td className="num">{rate(f.recall)}</td>
      <td className="num">{rate(f.false_positive_rate)}</td>
      <td className="num">{f.reviews}</td>
      <td className="num">{money(f.review_cost)}</td>
    </tr>
  );
}

function QualityTable({ caption, rows }: { caption: string; rows: Figures[] }) {
  return (
    <table className="rows">
      <caption>{caption}</caption>
      <thead>
        <tr>
          <th>week</th>
          <th>labels</th>
          <th>decisions</th>
          <th>fraud</th>
          <th>pending</th>
          <th>average precision</th>
          <th>precision</th>
          <th>recall</th>
          <th>false-positive rate</th>
          <th>reviews</th>
          <th>review cost</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((f) => (
          <QualityRow key={f.name} f={f} />
        ))}
      </tbody>
    </table>
  );
}

function MoneyTable({ currency, rows }: { currency: string; rows: Figures[] }) {
  return (
    <table className="rows" data-testid={`money-${currency}`}>
      <caption>Business view, {currency}</caption>
      <thead>
        <tr>
          <th>week</th>
          <th>labels</th>
          <th>fraud amount</th>
          <th>fraud declined</th>
          <th>fraud sent to review</th>
          <th>fraud approved (missed)</th>
          <th>value detection rate</th>
          <th>legitimate declined</th>
          <th>pending amount</th>
        </tr>
      </thead>
      <tbody>
        {rows.flatMap((f) =>
          f.money
            .filter((m) => m.currency === currency)
            .map((m) => (
              <tr key={f.name} className={f.mature ? "" : "immature"}>
                <td>{f.name}</td>
                <td>{labels(f)}</td>
                <td className="num">{money(m.fraud_amount)}</td>
                <td className="num">{money(m.fraud_declined)}</td>
                <td className="num">{money(m.fraud_review)}</td>
                <td className="num">{money(m.fraud_approved)}</td>
                <td className="num">{rate(m.value_detection_rate)}</td>
                <td className="num">{money(m.legitimate_declined)}</td>
                <td className="num">{money(m.pending_amount)}</td>
              </tr>
            )),
        )}
      </tbody>
    </table>
  );
}

export function ReportView({ now = new Date() }: { now?: Date }) {
  const [until, setUntil] = useState(() => nextMonday(now));
  const [since, setSince] = useState(() => weeksBefore(nextMonday(now), 8));
  const [cost, setCost] = useState("");
  const [report, setReport] = useState<Report | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    const query = {
      since: `${since}T00:00:00Z`,
      until: `${until}T00:00:00Z`,
      ...(cost ? { cost_per_review: Number(cost) } : {}),
    };
    const { data, error: failure } = await api.GET("/v1/reports/performance", { params: { query } });
    if (data) {
      setReport(data);
      setError(null);
    } else {
      setReport(null);
      setError(errorText(failure));
    }
  }, [since, until, cost]);

  useEffect(() => {
    void load();
  }, [load]);

  const totals = report ? [report.period, report.immature].filter((f): f is Figures => f != null) : [];
  const immature = report ? report.weeks.filter((w) => !w.mature) : [];
  const currencies = report ? [...new Set(report.weeks.flatMap((w) => w.money.map((m) => m.currency)))].sort() : [];

  return (
    <section aria-label="Performance" className="report">
      <form className="rule-form" onSubmit={(e) => e.preventDefault()}>
        <label>
          Since (UTC)
          <input type="date" value={since} onChange={(e) => setSince(e.target.value)} />
        </label>
        <label>
          Until, excluded
          <input type="date" value={until} onChange={(e) => setUntil(e.target.value)} />
        </label>
        <label>
          Cost per review
          <input
            type="number"
            min="0"
            step="any"
            placeholder="FRAUD_REVIEW_COST"
            value={cost}
            onChange={(e) => setCost(e.target.value)}
          />
        </label>
      </form>
      {error && <p role="alert">{error}</p>}
      {report && (
        <>
          <p data-testid="maturity">
            Labels count after {report.label_delay_days} days (FRAUD_LABEL_DELAY_DAYS): a transaction nobody
            labelled counts as legitimate once that old, and as pending (in no rate) before. Flagged: review and
            decline.
          </p>
          {report.period ? (
            <p data-testid="headline">
              The period's figures are those of the mature weeks, from {report.period.start.slice(0, 10)} until{" "}
              {report.period.end.slice(0, 10)} (excluded).
            </p>
          ) : (
            <p role="status" data-testid="headline">
              No week of this period is mature yet: no headline figures. The early figures below flatter the engine.
            </p>
          )}
          {immature.length > 0 && (
            <p data-testid="immature-note">
              Immature labels: {immature.map((w) => w.name).join(", ")}, shown apart.
            </p>
          )}
          <QualityTable caption="Period" rows={totals} />
          <QualityTable caption="Weekly" rows={report.weeks} />
          {currencies.map((c) => (
            <MoneyTable key={c} currency={c} rows={[...report.weeks, ...totals]} />
          ))}
        </>
      )}
    </section>
  );
}
