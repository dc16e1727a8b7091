// The review queue: open cases, oldest first; j/k move, Enter opens, a assigns to me.
import { useCallback, useEffect, useState } from "react";
import { api, errorText, type Schemas } from "../api/client";
import { useShortcuts } from "../keys";
import { navigate } from "../route";
import { useSession } from "../session";
import { when } from "../format";

type Case = Schemas["Case"];
const PAGE = 200;

export function QueueView() {
  const session = useSession();
  const [cases, setCases] = useState<Case[] | null>(null);
  const [selected, setSelected] = useState(0);
  const [message, setMessage] = useState<string | null>(null);
  const [next, setNext] = useState<string | null>(null);
  // The API's count of the open queue, not the cases loaded so far (a page is 200).
  const [total, setTotal] = useState(0);

  const load = useCallback(async (cursor?: string) => {
    const { data, error } = await api.GET("/v1/cases", {
      params: { query: { limit: PAGE, ...(cursor ? { cursor } : {}) } },
    });
    if (data) {
      setCases((shown) => {
        const items = cursor ? [...(shown ?? []), ...data.items] : data.items;
        return [...items].sort((a, b) => a.opened_at.localeCompare(b.opened_at));
      });
      setNext(data.next_cursor);
      setTotal(data.total);
    } else setMessage(errorText(error));
  }, []);

  useEffect(() => {
    void load();
  }, [load]);

  const current = cases?.[selected];
  const assign = async () => {
    if (!current) return;
    const { error } = await api.POST("/v1/cases/{case_id}/assign", {
      params: { path: { case_id: String(current.id) } },
      body: { assignee: session.keyId },
    });
    setMessage(error ? `Not assigned: ${errorText(error)}` : `Case ${current.id} assigned to ${session.keyId}`);
    await load();
  };
  const move = (by: number) =>
    setSelected((s) => Math.max(0, Math.min((cases?.length ?? 1) - 1, s + by)));

  useShortcuts({
    j: () => move(1),
    k: () => move(-1),
    Enter: () => current && navigate(`/cases/${current.id}`),
    a: () => void assign(),
  });

  if (!cases) return <p>{message ?? "Loading the queue…"}</p>;
  return (
    <section aria-label="Review queue">
      <h2>
        Review queue ({total.toLocaleString("en")} open
        {cases.length < total ? `, the oldest ${cases.length.toLocaleString("en")} shown` : ""})
      </h2>
      <p className="hint">
        <kbd>j</kbd>/<kbd>k</kbd> move · <kbd>Enter</kbd> open · <kbd>a</kbd> assign to me
      </p>
      {message && <p role="status">{message}</p>}
      <table className="rows">
        <thead>
          <tr>
            <th>case</th>
            <th>opened</th>
            <th>card</th>
            <th>tier</th>
            <th>transactions</th>
            <th>amount</th>
            <th>status</th>
            <th>assignee</th>
          </tr>
        </thead>
        <tbody>
          {cases.map((c, i) => (
            <tr
              key={c.id}
              data-testid="case-row"
              data-case-id={c.id}
              tabIndex={0}
              aria-selected={i === selected}
              className={i === selected ? "selected" : ""}
              onClick={() => navigate(`/cases/${c.id}`)}
              onFocus={() => setSelected(i)}
            >
              <td>{c.id}</td>
              <td>{when(c.opened_at)}</td>
              <td className="mono">{c.card_id}</td>
              <td className={`tier tier-${c.risk_tier}`}>{c.risk_tier}</td>
              <td>{c.transaction_count}</td>
              <td>{c.total_amount.toFixed(2)}</td>
              <td>{c.status}</td>
              <td>{c.assignee ?? "–"}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {cases.length === 0 && <p>No open cases.</p>}
      {next && (
        <button type="button" onClick={() => void load(next)}>
          More cases…
        </button>
      )}
    </section>
  );
}
