// Rules: the list with their hit counts, an editor that shows the API's validation
// error in place, and a backtest before saving.
import { type FormEvent, useCallback, useEffect, useState } from "react";
import { api, errorText, type Schemas } from "../api/client";
import { can, useSession } from "../session";
import { type FieldError, fieldErrors, RuleError } from "./RuleError";

type Rule = Schemas["RuleOut"];
type Backtest = Schemas["BacktestReportOut"];

interface Draft {
  id: string;
  description: string;
  condition: string;
  action: string;
  mode: "active" | "shadow";
  priority: number;
  version: number;
}

const NEW: Draft = { id: "", description: "", condition: "", action: "review", mode: "shadow", priority: 100, version: 0 };
const ACTIONS = ["approve", "review", "decline", "raise_to:medium", "raise_to:high", "raise_to:critical"];
const DAY = 86_400_000;

type Hits = Record<string, { active: number; shadow: number }>;

function RuleForm({ draft, onSaved, onCancel }: { draft: Draft; onSaved(): void; onCancel(): void }) {
  const [form, setForm] = useState(draft);
  const [errors, setErrors] = useState<FieldError[]>([]);
  const [backtest, setBacktest] = useState<Backtest | null>(null);
  const [days, setDays] = useState(7);
  const [status, setStatus] = useState<string | null>(null);
  const editing = draft.version > 0;
  const set = <K extends keyof Draft>(field: K, value: Draft[K]) => setForm({ ...form, [field]: value });

  const runBacktest = async () => {
    setStatus("Backtesting…");
    setBacktest(null);
    const until = new Date();
    const since = new Date(until.getTime() - days * DAY);
    const { data, error } = await api.POST("/v1/rules/backtest", {
      body: { condition: form.condition, action: form.action, since: since.toISOString(), until: until.toISOString() },
    });
    setStatus(null);
    if (data) {
      setErrors([]);
      setBacktest(data);
    } else setErrors(fieldErrors(error));
  };

  const save = async (event: FormEvent) => {
    event.preventDefault();
    if (!form.id) {
      setErrors([{ field: "rule_id", message: "a rule needs an id" }]);
      return;
    }
    const { data, error } = await api.PUT("/v1/rules/{rule_id}", {
      params: { path: { rule_id: form.id } },
      body: {
        description: form.description,
        condition: form.condition,
        action: form.action,
        mode: form.mode,
        priority: form.priority,
        expected_version: form.version,
      },
    });
    if (data) {
      setErrors([]);
      onSaved();
    } else setErrors(fieldErrors(error));
  };

  return (
    <form className="rule-form" onSubmit={save} aria-label={editing ? `Edit rule ${draft.id}` : "New rule"}>
      <label>
        Id
        <input data-testid="rule-id" value={form.id} disabled={editing} onChange={(e) => set("id", e.target.value)} />
      </label>
      <label>
        Description
        <input data-testid="rule-description" value={form.description} onChange={(e) => set("description", e.target.value)} />
      </label>
      <label className="wide">
        Condition
        <textarea
          data-testid="rule-condition"
          className="mono"
          rows={3}
          value={form.condition}
          onChange={(e) => set("condition", e.target.value)}
        />
      </label>
      <label>
        Action
        <select data-testid="rule-action" value={form.action} onChange={(e) => set("action", e.target.value)}>
          {ACTIONS.map((a) => (
            <option key={a}>{a}</option>
          ))}
        </select>
      </label>
      <label>
        Mode
        <select
          data-testid="rule-mode"
          value={form.mode}
          onChange={(e) => set("mode", e.target.value as Draft["mode"])}
        >
          <option>shadow</option>
          <option>active</option>
        </select>
      </label>
      <label>
        Priority
        <input
          data-testid="rule-priority"
          type="number"
          min={0}
          value={form.priority}
          onChange={(e) => set("priority", Number(e.target.value))}
        />
      </label>
      <label>
        Backtest over the last
        <select value={days} onChange={(e) => setDays(Number(e.target.value))}>
          {[1, 7, 30].map((d) => (
            <option key={d} value={d}>
              {d} day{d > 1 ? "s" : ""}
            </option>
          ))}
        </select>
      </label>
      <div className="buttons">
        <button type="button" data-testid="rule-backtest" onClick={() => void runBacktest()}>
          Backtest
        </button>
        <button type="submit" data-testid="rule-save">
          Save
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
      {status && <p role="status">{status}</p>}
      <RuleError errors={errors} condition={form.condition} />
      {backtest && <BacktestResult report={backtest} />}
    </form>
  );
}

function BacktestResult({ report }: { report: Backtest }) {
  const ratio = (v: number | null) => (v == null ? "–" : `${(100 * v).toFixed(1)}%`);
  return (
    <div data-testid="backtest-result" role="status" className="backtest">
      <p>
        {report.hits} of {report.rows} transactions hit ({report.hits_fraud} fraud, {report.hits_legitimate}{" "}
        legitimate, {report.hits_unlabelled} unlabelled) · recall {ratio(report.recall)} · precision{" "}
        {ratio(report.precision)} · kept by a list {report.kept_by_list}
      </p>
      <p>
        Decision changes:{" "}
        {Object.entries(report.decision_changes)
          .flatMap(([from, to]) => Object.entries(to).map(([into, n]) => `${from} → ${into}: ${n}`))
          .join(", ") || "none"}
        {" · "}fraud amount caught:{" "}
        {Object.entries(report.fraud_amount_caught)
          .map(([c, v]) => `${String(v)} ${c}`)
          .join(", ") || "0"}
      </p>
    </div>
  );
}

// A rule that raised while this API process scored: it was skipped in those batches (their
// answers carry the model's decision), so it decided nothing there.
function RuleErrors({ errors }: { errors: NonNullable<Rule["errors"]> }) {
  return (
    <p className="rule-errors" role="alert" data-testid="rule-errors">
      Skipped: raised while scoring in {errors.batches} batch{errors.batches === 1 ? "" : "es"} since{" "}
      {new Date(errors.first_at).toLocaleString()} ({errors.error})
    </p>
  );
}

export function RulesView() {
  const session = useSession();
  const admin = can(session, "admin");
  const [rules, setRules] = useState<Rule[] | null>(null);
  const [hits, setHits] = useState<Hits>({});
  const [editing, setEditing] = useState<Draft | null>(null);
  const [message, setMessage] = useState<string | null>(null);

  const load = useCallback(async () => {
    const [list, counted] = await Promise.all([
      api.GET("/v1/rules"),
      api.GET("/v1/rules/hits", { params: { query: { hours: 24 } } }),
    ]);
    if (list.data) setRules(list.data.rules);
    else setMessage(errorText(list.error));
    if (counted.data) {
      const next: Hits = {};
      for (const hit of counted.data.hits) {
        const entry = (next[hit.rule_id] ??= { active: 0, shadow: 0 });
        entry[hit.mode] += hit.count;
      }
      setHits(next);
    }
  }, []);

  useEffect(() => {
    void load();
  }, [load]);

  const remove = async (id: string) => {
    const { error } = await api.DELETE("/v1/rules/{rule_id}", { params: { path: { rule_id: id } } });
    setMessage(error ? `Not deleted: ${errorText(error)}` : `Rule ${id} deleted`);
    await load();
  };

  return (
    <section aria-label="Rules">
      <h2>Rules</h2>
      {message && <p role="status">{message}</p>}
      {admin && !editing && (
        <button type="button" data-testid="rule-new" onClick={() => setEditing(NEW)}>
          New rule
        </button>
      )}
      {editing && (
        <RuleForm
          key={editing.id || "new"}
          draft={editing}
          onCancel={() => setEditing(null)}
          onSaved={() => {
            setMessage(`Rule ${editing.id || ""} saved`);
            setEditing(null);
            void load();
          }}
        />
      )}
      <table className="rows">
        <thead>
          <tr>
            <th>id</th>
            <th>condition</th>
            <th>action</th>
            <th>mode</th>
            <th>priority</th>
            <th>hits 24 h (active)</th>
            <th>hits 24 h (shadow)</th>
            <th>version</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {(rules ?? []).map((rule) => (
            <tr key={rule.id} data-testid="rule-row" data-rule-id={rule.id}>
              <td className="mono">{rule.id}</td>
              <td className="mono" title={rule.description}>
                {rule.condition}
                {rule.errors && <RuleErrors errors={rule.errors} />}
              </td>
              <td>{rule.action}</td>
              <td>{rule.mode}</td>
              <td>{rule.priority}</td>
              <td data-testid="rule-hits-active">{hits[rule.id]?.active ?? 0}</td>
              <td data-testid="rule-hits-shadow">{hits[rule.id]?.shadow ?? 0}</td>
              <td>{rule.version}</td>
              <td>
                {admin && (
                  <>
                    <button
                      type="button"
                      onClick={() =>
                        setEditing({
                          id: rule.id,
                          description: rule.description,
                          condition: rule.condition,
                          action: rule.action,
                          mode: rule.mode === "active" ? "active" : "shadow",
                          priority: rule.priority,
                          version: rule.version,
                        })
                      }
                    >
                      Edit
                    </button>
                    <button type="button" onClick={() => void remove(rule.id)} aria-label={`Delete rule ${rule.id}`}>
                      Delete
                    </button>
                  </>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {rules?.length === 0 && <p>No rules yet.</p>}
    </section>
  );
}
