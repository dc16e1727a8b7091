import type { ConnectionState } from "./connection";

const LABEL: Record<ConnectionState, string> = {
  connecting: "Connecting…",
  live: "Live",
  reconnecting: "Reconnecting…",
  closed: "Not connected",
};

export function ConnectionBadge({ state }: { state: ConnectionState }) {
  return (
    <span
      data-testid="connection-state"
      data-state={state}
      className={`badge conn-${state}`}
      role="status"
      aria-live="polite"
    >
      {LABEL[state]}
    </span>
  );
}
