// Allow / block / review lists: add entries (optionally expiring) and remove them.
import { type FormEvent, useCallback, useEffect, useState } from "react";
import { api, errorText, type Schemas } from "../api/client";
import { can, useSession } from "../session";
import { when } from "../format";

type Entry = Schemas["ListEntryOut"];
const ENTITIES = ["card", "account", "device", "ip", "merchant"] as const;
const ACTIONS = ["block", "allow", "review"] as const;

export function ListsView() {
  const session = useSession();
  const admin = can(session, "admin");
  const [entries, setEntries] = useState<Entry[] | null>(null);
  const [entity, setEntity] = useState<(typeof ENTITIES)[number]>("card");
  const [value, setValue] = useState("");
  const [action, setAction] = useState<(typeof ACTIONS)[number]>("block");
  const [reason, setReason] = useState("");
  const [expires, setExpires] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [message, setMessage] = useState<string | null>(null);

  const [next, setNext] = useState<string | null>(null);

  const load = useCallback(async (cursor?: string) => {
    const { data, error: failure } = await api.GET("/v1/lists", {
      params: { query: { limit: 500, ...(cursor ? { cursor } : {}) } },
    });
    if (data) {
      setEntries((shown) => (cursor ? [...(shown ?? []), ...data.items] : data.items));
      setNext(data.next_cursor);
    } else setError(errorText(failure));
  }, []);

  useEffect(() => {
    void load();
  }, [load]);

  const add = async (event: FormEvent) => {
    event.preventDefault();
    const { data, error: failure } = await api.POST("/v1/lists", {
      body: {
        entity,
        value,
        action,
        reason,
        ...(expires ? { expires_at: new Date(expires).toISOString() } : {}),
      },
    });
    if (data) {
      setError(null);
      setMessage(`Added ${data.entity} ${data.value} to the ${data.action} list`);
      setValue("");
      setReason("");
      setExpires("");
      await load();
    } else setError(errorText(failure));
  };

  const remove = async (entry: Entry) => {
    const { error: failure } = await api.DELETE("/v1/lists/{entry_id}", {
      params: { path: { entry_id: entry.id } },
    });
    if (failure) setError(errorText(failure));
    else setMessage(`Removed entry ${entry.id}`);
    await load();
  };

  return (
    <section aria-label="Lists">
      <h2>Lists</h2>
      {admin && (
        <form className="list-form" onSubmit={add} aria-label="Add a list entry">
          <label>
            Entity
            <select data-testid="list-entity" value={entity} onChange={(e) => setEntity(e.target.value as typeof entity)}>
              {ENTITIES.map((x) => (
                <option key={x}>{x}</option>
              ))}
            </select>
          </label>
          <label>
            Value
            <input data-testid="list-value" value={value} onChange={(e) => setValue(e.target.value)} />
          </label>
          <label>
            Action
            <select data-testid="list-action" value={action} onChange={(e) => setAction(e.target.value as typeof action)}>
              {ACTIONS.map((x) => (
                <option key={x}>{x}</option>
              ))}
            </select>
          </label>
          <label>
            Reason
            <input data-testid="list-reason" value={reason} onChange={(e) => setReason(e.target.value)} />
          </label>
          <label>
            Expires (optional)
            <input
              data-testid="list-expires"
              type="datetime-local"
              value={expires}
              onChange={(e) => setExpires(e.target.value)}
            />
          </label>
          <button type="submit" data-testid="list-add">
            Add
          </button>
        </form>
      )}
      {error && (
        <p data-testid="list-error" role="alert" className="error">
          {error}
        </p>
      )}
      {message && <p role="status">{message}</p>}
      <table className="rows">
        <thead>
          <tr>
            <th>entity</th>
            <th>value</th>
            <th>action</th>
            <th>reason</th>
            <th>expires</th>
            <th>created</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {(entries ?? []).map((entry) => (
            <tr key={entry.id} data-testid="list-row" data-entry-id={entry.id}>
              <td>{entry.entity}</td>
              <td className="mono">{entry.value}</td>
              <td>{entry.action}</td>
              <td>{entry.reason}</td>
              <td>{entry.expires_at ? when(entry.expires_at) : "never"}</td>
              <td>
                {when(entry.created_at)} {entry.created_by ? `by ${entry.created_by}` : ""}
              </td>
              <td>
                {admin && (
                  <button
                    type="button"
                    data-testid="list-remove"
                    aria-label={`Remove ${entry.entity} ${entry.value}`}
                    onClick={() => void remove(entry)}
                  >
                    Remove
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {entries?.length === 0 && <p>No entries.</p>}
      {next && (
        <button type="button" onClick={() => void load(next)}>
          More entries…
        </button>
      )}
    </section>
  );
}
