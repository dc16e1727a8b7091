import { type FormEvent, useState } from "react";

export function KeyEntry({ onKey, error }: { onKey(key: string): void; error: string | null }) {
  const [key, setKey] = useState("");
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (key.trim()) onKey(key.trim());
  };
  return (
    <main className="key-entry">
      <h1>Fraud operations console</h1>
      <form onSubmit={submit}>
        <label htmlFor="api-key">API key</label>
        <input
          id="api-key"
          data-testid="api-key-input"
          type="password"
          autoComplete="off"
          autoFocus
          value={key}
          onChange={(e) => setKey(e.target.value)}
        />
        <button data-testid="api-key-submit" type="submit">
          Open console
        </button>
        {error && (
          <p role="alert" className="error">
            {error}
          </p>
        )}
      </form>
      <p className="hint">Kept for this tab only (session storage).</p>
    </main>
  );
}
