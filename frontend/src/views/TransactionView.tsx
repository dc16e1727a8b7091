// Investigation: one stored decision, its reasons, the card's recent transactions, and
// the analyst's label.
import { useEffect, useState } from "react";
import { api, errorText, type Schemas } from "../api/client";
import { can, useSession } from "../session";
import { when } from "../format";
import { transactionPath } from "../route";

type Detail = Schemas["TransactionDetail"];
type Summary = Schemas["TransactionSummary"];
const STORE_WAIT_ATTEMPTS = 10;

type Reason = { feature: string; value: number | null; contribution: number };

function reasonsOf(detail: Detail): Reason[] {
  const reasons = detail.response["reasons"];
  return Array.isArray(reasons) ? (reasons as Reason[]) : [];
}

function componentsOf(detail: Detail): [string, number][] {
  const components = detail.response["components"];
  if (!components || typeof components !== "object") return [];
  return Object.entries(components as Record<string, number>);
}

export function ReasonBars({ reasons }: { reasons: Reason[] }) {
  const largest = Math.max(1e-9, ...reasons.map((r) => Math.abs(r.contribution)));
  return (
    <ul className="reasons" data-testid="detail-reasons" aria-label="Reasons and their contributions">
      {reasons.map((r) => (
        <li key={r.feature} data-testid="reason-bar" data-feature={r.feature}>
          <span className="mono reason-name">
            {r.feature} {r.value === null ? "(missing)" : `= ${r.value}`}
          </span>
          <span className="bar-track">
            <span
              className={r.contribution >= 0 ? "bar up" : "bar down"}
              style={{ width: `${(100 * Math.abs(r.contribution)) / largest}%` }}
            />
          </span>
          <span className="num">{r.contribution >= 0 ? "+" : ""}{r.contribution.toFixed(3)}</span>
        </li>
      ))}
      {reasons.length === 0 && <li>No reasons stored.</li>}
    </ul>
  );
}

function Feedback({ transactionId, scope }: { transactionId: string; scope: string }) {
  const [result, setResult] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const send = async (label: "fraud" | "legitimate") => {
    setBusy(true);
    const { data, error } = await api.POST("/v1/feedback", {
      body: { transaction_id: transactionId, scope, label, source: "analyst" },
    });
    setBusy(false);
    if (data) {
      setResult(
        `${data.created ? "Recorded" : "Already recorded"}: ${data.label} (${data.source}); ` +
          `effective label now ${data.effective_label}`,
      );
    } else setResult(`Not recorded: ${errorText(error)}`);
  };
  return (
    <div className="feedback">
      <button type="button" data-testid="feedback-fraud" disabled={busy} onClick={() => send("fraud")}>
        Mark as fraud
      </button>
      <button type="button" data-testid="feedback-legitimate" disabled={busy} onClick={() => send("legitimate")}>
        Mark as legitimate
      </button>
      <span data-testid="feedback-result" role="status">
        {result}
      </span>
    </div>
  );
}

export function History({ rows }: { rows: readonly Summary[] }) {
  return (
    <table data-testid="detail-card-history">
      <caption>The card's recent transactions</caption>
      <thead>
        <tr>
          <th>scored at</th>
          <th>transaction</th>
          <th>merchant</th>
          <th>amount</th>
          <th>score</th>
          <th>tier</th>
          <th>decision</th>
          <th>source</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((row) => (
          <tr key={`${row.scope}-${row.transaction_id}`} data-testid="history-row">
            <td>{when(row.scored_at)}</td>
            <td>
              <a href={`#${transactionPath(row.transaction_id, row.scope)}`}>{row.transaction_id}</a>
            </td>
            <td>{row.merchant_id}</td>
            <td>
              {row.amount} {row.currency}
            </td>
            <td>{row.score.toFixed(3)}</td>
            <td className={`tier tier-${row.risk_tier}`}>{row.risk_tier}</td>
            <td>{row.decision}</td>
            <td className="mono">{row.decision_source}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

// An id scored by several API keys: one link per scope that holds it.
function Scopes({ id, rows }: { id: string; rows: readonly Summary[] }) {
  return (
    <div role="status" data-testid="detail-scopes">
      <p>
        Transaction <span className="mono">{id}</span> was scored by {rows.length} API keys. Which one?
      </p>
      <ul>
        {rows.map((row) => (
          <li key={row.scope}>
            <a href={`#${transactionPath(row.transaction_id, row.scope)}`}>
              key <span className="mono">{row.scope || "(before scopes)"}</span>
            </a>{" "}
            · card <span className="mono">{row.card_id}</span> · {row.amount} {row.currency} · {when(row.scored_at)}
          </li>
        ))}
      </ul>
    </div>
  );
}

export function TransactionView({ id, scope }: { id: string; scope?: string }) {
  const session = useSession();
  const [detail, setDetail] = useState<Detail | null>(null);
  const [history, setHistory] = useState<Summary[]>([]);
  const [scopes, setScopes] = useState<Summary[]>([]);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    let current = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    setDetail(null);
    setScopes([]);
    setError(null);
    const load = async (attempt: number) => {
      const found = await api.GET("/v1/transactions/{transaction_id}", {
        params: { path: { transaction_id: id }, query: scope === undefined ? {} : { scope } },
      });
      if (!current) return;
      if (found.response.status === 409) {
        const held = await api.GET("/v1/transactions", { params: { query: { transaction_id: id } } });
        if (current && held.data) setScopes(held.data.items);
        if (current && !held.data) setError(errorText(found.error));
        return;
      }
      if (!found.data) {
        // A decision just seen on the stream may not be in PostgreSQL yet: the consumer
        // writes in batches. Wait for it a little before saying it is not there.
        if (found.response.status === 404 && attempt < STORE_WAIT_ATTEMPTS) {
          setError(`Waiting for ${id} to be stored…`);
          timer = setTimeout(() => void load(attempt + 1), 1_000);
          return;
        }
        setError(found.response.status === 404 ? `Transaction ${id} is not stored.` : errorText(found.error));
        return;
      }
      setError(null);
      setDetail(found.data);
      const card = await api.GET("/v1/transactions", {
        params: { query: { card_id: found.data.card_id, limit: 20 } },
      });
      if (current && card.data) setHistory(card.data.items);
    };
    void load(0);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [id, scope]);

  if (scopes.length > 0) return <Scopes id={id} rows={scopes} />;
  if (error) return <p role="status">{error}</p>;
  if (!detail) return <p>Loading {id}…</p>;
  return (
    <article className="detail" data-testid="detail">
      <h2>
        Transaction <span className="mono">{detail.transaction_id}</span>
      </h2>
      <p className="muted">
        Scored by key <span className="mono" data-testid="detail-scope">{detail.scope || "(before scopes)"}</span>
      </p>
      <div className="detail-grid">
        <dl>
          <dt>Score</dt>
          <dd>{detail.score.toFixed(4)}</dd>
          {componentsOf(detail).map(([name, value]) => (
            <div key={name} className="pair">
              <dt>{name}</dt>
              <dd>{typeof value === "number" ? value.toFixed(4) : String(value)}</dd>
            </div>
          ))}
          <dt>Tier</dt>
          <dd className={`tier tier-${detail.risk_tier}`}>{detail.risk_tier}</dd>
          <dt>Decision</dt>
          <dd data-testid="detail-decision">{detail.decision}</dd>
          <dt>Decided by</dt>
          <dd data-testid="detail-source" className="mono">
            {detail.decision_source}
          </dd>
          <dt>Model version</dt>
          <dd className="mono">{detail.model_version}</dd>
          <dt>Degraded</dt>
          <dd>{detail.degraded ? "yes" : "no"}</dd>
          <dt>Latency</dt>
          <dd>{detail.latency_ms == null ? "–" : `${detail.latency_ms} ms`}</dd>
        </dl>
        <dl>
          {Object.entries(detail.request).map(([field, value]) => (
            <div key={field} className="pair">
              <dt>{field}</dt>
              <dd className="mono">{String(value)}</dd>
            </div>
          ))}
        </dl>
      </div>
      <h3>Reasons</h3>
      <ReasonBars reasons={reasonsOf(detail)} />
      <h3>Labels</h3>
      <ul>
        {detail.labels.map((label) => (
          <li key={`${label.source}-${label.received_at}`}>
            {label.label} from {label.source}, reported {when(label.reported_at)}
          </li>
        ))}
        {detail.labels.length === 0 && <li>No label yet.</li>}
      </ul>
      {can(session, "review") && <Feedback transactionId={detail.transaction_id} scope={detail.scope} />}
      <History rows={history} />
    </article>
  );
}
