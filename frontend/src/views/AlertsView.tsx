// Alerts: high and critical decisions as they stream in, and the alert deliveries.
import { useCallback, useEffect, useState } from "react";
import { api, errorText } from "../api/client";
import { useLiveSnapshot } from "../live/useLive";
import { when } from "../format";
import { transactionPath } from "../route";

const STATUSES = ["", "pending", "sent", "failed", "suppressed"] as const;
type Status = (typeof STATUSES)[number];

type Deliveries = NonNullable<Awaited<ReturnType<typeof fetchAlerts>>["data"]>["alerts"];

function fetchAlerts(status: Status) {
  return api.GET("/v1/alerts", { params: { query: { limit: 100, ...(status ? { status } : {}) } } });
}

export function AlertsView() {
  const { alerts: raised } = useLiveSnapshot();
  const [status, setStatus] = useState<Status>("");
  const [deliveries, setDeliveries] = useState<Deliveries>([]);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    const { data, error: failure } = await fetchAlerts(status);
    if (data) {
      setDeliveries(data.alerts);
      setError(null);
    } else setError(errorText(failure));
  }, [status]);

  useEffect(() => {
    void load();
    const timer = setInterval(() => void load(), 5_000);
    return () => clearInterval(timer);
  }, [load]);

  return (
    <section aria-label="Alerts" className="alerts">
      <div>
        <h2>High and critical decisions (live)</h2>
        <ul className="raised">
          {raised.slice(0, 100).map((d) => (
            <li key={`${d.scope}-${d.transaction_id}`} className={`tier-row-${d.risk_tier}`}>
              <a href={`#${transactionPath(d.transaction_id, d.scope)}`}>{d.transaction_id}</a>{" "}
              <span className={`tier tier-${d.risk_tier}`}>{d.risk_tier}</span> {d.score.toFixed(3)} · {d.decision} ·{" "}
              {d.amount} {d.currency} · card <span className="mono">{d.card_id}</span>
            </li>
          ))}
          {raised.length === 0 && <li>None since the console opened.</li>}
        </ul>
      </div>
      <div>
        <h2>Deliveries</h2>
        <label>
          Status{" "}
          <select value={status} onChange={(e) => setStatus(e.target.value as Status)}>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s || "all"}
              </option>
            ))}
          </select>
        </label>
        {error && <p role="alert">{error}</p>}
        <table className="rows">
          <thead>
            <tr>
              <th>created</th>
              <th>transaction</th>
              <th>sink</th>
              <th>tier</th>
              <th>decision</th>
              <th>status</th>
              <th>attempts</th>
              <th>last error</th>
            </tr>
          </thead>
          <tbody>
            {deliveries.map((a) => (
              <tr key={`${a.scope}-${a.transaction_id}-${a.sink}`} data-testid="alert-row" data-status={a.status}>
                <td>{when(a.created_at)}</td>
                <td>
                  <a href={`#${transactionPath(a.transaction_id, a.scope)}`}>{a.transaction_id}</a>
                </td>
                <td>{a.sink}</td>
                <td className={`tier tier-${a.risk_tier}`}>{a.risk_tier}</td>
                <td>{a.decision}</td>
                <td>{a.status}</td>
                <td>{a.attempts}</td>
                <td>{a.last_error ?? ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </section>
  );
}
