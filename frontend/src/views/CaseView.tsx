// One case: its transactions and the card's history; assign (a), resolve as fraud (f)
// or legitimate (l) with a note, optionally blocking the card.
import { useCallback, useEffect, useState } from "react";
import { api, errorText, type Schemas } from "../api/client";
import { useShortcuts } from "../keys";
import { useSession } from "../session";
import { History } from "./TransactionView";
import { when } from "../format";
import { transactionPath } from "../route";

type CaseDetail = Schemas["CaseDetail"];

export function CaseView({ id }: { id: string }) {
  const session = useSession();
  const [item, setItem] = useState<CaseDetail | null>(null);
  const [note, setNote] = useState("");
  const [block, setBlock] = useState(false);
  const [result, setResult] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const load = useCallback(async () => {
    const { data, error } = await api.GET("/v1/cases/{case_id}", { params: { path: { case_id: id } } });
    if (data) setItem(data);
    else setResult(errorText(error));
  }, [id]);

  useEffect(() => {
    void load();
  }, [load]);

  const assign = async () => {
    const { data, error } = await api.POST("/v1/cases/{case_id}/assign", {
      params: { path: { case_id: id } },
      body: { assignee: session.keyId },
    });
    setResult(data ? `Assigned to ${data.assignee ?? session.keyId}` : `Not assigned: ${errorText(error)}`);
    if (data) await load();
  };

  const resolve = async (verdict: "fraud" | "legitimate") => {
    if (busy || !item || item.status === "closed") return;
    setBusy(true);
    const { data, error } = await api.POST("/v1/cases/{case_id}/resolve", {
      params: { path: { case_id: id } },
      body: {
        verdict,
        ...(note.trim() ? { note: note.trim() } : {}),
        ...(block ? { block_card: { reason: `case ${id}: ${verdict}` } } : {}),
      },
    });
    setBusy(false);
    if (data) {
      const entry = data.list_entry ? `; card blocked (list entry ${String(data.list_entry["id"])})` : "";
      setResult(`Resolved as ${data.verdict}: ${data.labelled} transactions labelled${entry}`);
      await load();
    } else setResult(`Not resolved: ${errorText(error)}`);
  };

  useShortcuts({ a: () => void assign(), f: () => void resolve("fraud"), l: () => void resolve("legitimate") });

  if (!item) return <p role="status">{result ?? `Loading case ${id}…`}</p>;
  const closed = item.status === "closed";
  return (
    <article className="case" aria-label={`Case ${item.id}`}>
      <h2>
        Case {item.id}: card <span className="mono">{item.card_id}</span>{" "}
        <span className={`tier tier-${item.risk_tier}`}>{item.risk_tier}</span>
      </h2>
      <p>
        {item.assignee && item.status === "assigned" ? `assigned to ${item.assignee}` : item.status}
        {item.assignee && item.status !== "assigned" ? `, assigned to ${item.assignee}` : ""} · opened {when(item.opened_at)} ·{" "}
        {item.transaction_count} transactions, {item.total_amount.toFixed(2)}
        {item.verdict ? ` · verdict ${item.verdict}` : ""}
      </p>
      <div className="case-actions">
        <button type="button" data-testid="case-assign" onClick={() => void assign()} disabled={closed}>
          Assign to me (a)
        </button>
        <label>
          Note
          <textarea data-testid="case-note" value={note} onChange={(e) => setNote(e.target.value)} rows={2} />
        </label>
        <label>
          <input
            type="checkbox"
            data-testid="case-block-card"
            checked={block}
            onChange={(e) => setBlock(e.target.checked)}
          />{" "}
          Block the card
        </label>
        <button
          type="button"
          data-testid="case-verdict-fraud"
          disabled={busy || closed}
          onClick={() => void resolve("fraud")}
        >
          Fraud (f)
        </button>
        <button
          type="button"
          data-testid="case-verdict-legitimate"
          disabled={busy || closed}
          onClick={() => void resolve("legitimate")}
        >
          Legitimate (l)
        </button>
      </div>
      <p data-testid="case-result" role="status">
        {result}
      </p>
      <table className="rows">
        <caption>Transactions of the case</caption>
        <thead>
          <tr>
            <th>transaction</th>
            <th>event time</th>
            <th>merchant</th>
            <th>amount</th>
            <th>score</th>
            <th>tier</th>
            <th>decision</th>
            <th>source</th>
            <th>label</th>
          </tr>
        </thead>
        <tbody>
          {item.transactions.map((t) => (
            <tr key={`${t.scope}-${t.transaction_id}`}>
              <td>
                <a href={`#${transactionPath(t.transaction_id, t.scope)}`}>{t.transaction_id}</a>
              </td>
              <td>{when(t.event_time)}</td>
              <td>{t.merchant_id}</td>
              <td>
                {t.amount} {t.currency}
              </td>
              <td>{t.score.toFixed(3)}</td>
              <td className={`tier tier-${t.risk_tier}`}>{t.risk_tier}</td>
              <td>{t.decision}</td>
              <td className="mono">{t.decision_source}</td>
              <td>{t.label ?? "–"}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <History rows={item.card_history} />
    </article>
  );
}
