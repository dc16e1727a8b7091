import { useCallback, useEffect, useMemo, useState } from "react";
import { api, apiKey, onUnauthorized } from "./api/client";
import { KeyEntry } from "./auth/KeyEntry";
import { ConnectionBadge } from "./live/ConnectionBadge";
import { LiveContext, useLiveConnection } from "./live/useLive";
import { type Route, parseRoute, useHash } from "./route";
import { can, type Session, SessionContext, VIEW_SCOPE } from "./session";
import { AlertsView } from "./views/AlertsView";
import { CaseView } from "./views/CaseView";
import { DriftView } from "./views/DriftView";
import { ListsView } from "./views/ListsView";
import { LiveView } from "./views/LiveView";
import { QueueView } from "./views/QueueView";
import { ReportView } from "./views/ReportView";
import { RulesView } from "./views/RulesView";
import { TransactionView } from "./views/TransactionView";

type Me = { keyId: string; scopes: string[] };

const NAV = [
  ["live", "Live"],
  ["queue", "Review queue"],
  ["rules", "Rules"],
  ["lists", "Lists"],
  ["alerts", "Alerts"],
  ["performance", "Performance"],
  ["drift", "Drift"],
] as const;

export function App() {
  const [key, setKey] = useState<string | null>(() => apiKey.get());
  const [me, setMe] = useState<Me | null>(null);
  const [error, setError] = useState<string | null>(null);

  const signOut = useCallback(() => {
    apiKey.clear();
    setKey(null);
    setMe(null);
  }, []);

  useEffect(
    () =>
      onUnauthorized(() => {
        setError("The API key was refused: enter a valid key.");
        signOut();
      }),
    [signOut],
  );

  useEffect(() => {
    if (!key) return;
    let current = true;
    api.GET("/v1/me").then(({ data, error: failure, response }) => {
      if (!current) return;
      if (data) {
        setMe({ keyId: data.key_id, scopes: data.scopes });
        setError(null);
      } else if (response.status !== 401) {
        setError(`GET /v1/me failed (${response.status}): ${JSON.stringify(failure)}`);
      }
    });
    return () => {
      current = false;
    };
  }, [key]);

  const session = useMemo<Session | null>(
    () => (me ? { keyId: me.keyId, scopes: me.scopes, signOut } : null),
    [me, signOut],
  );
  const streaming = session && can(session, "read") ? key : null;
  const live = useLiveConnection(streaming);
  const hash = useHash();

  if (!key || !session) {
    return (
      <KeyEntry
        error={error}
        onKey={(next) => {
          apiKey.set(next);
          setKey(next);
        }}
      />
    );
  }
  const route = parseRoute(hash);
  const active = route.view === "transaction" ? "live" : route.view === "case" ? "queue" : route.view;
  return (
    <SessionContext.Provider value={session}>
      <LiveContext.Provider value={live}>
        <header className="top">
          <strong className="brand">Fraud console</strong>
          <nav aria-label="Views">
            {NAV.map(([view, label]) => {
              const allowed = can(session, VIEW_SCOPE[view]);
              return (
                <a
                  key={view}
                  data-testid={`nav-${view}`}
                  role="link"
                  href={allowed ? `#/${view}` : undefined}
                  aria-disabled={allowed ? undefined : "true"}
                  aria-current={active === view ? "page" : undefined}
                  title={allowed ? undefined : `needs the ${VIEW_SCOPE[view]} scope`}
                  className={allowed ? "" : "disabled"}
                >
                  {label}
                </a>
              );
            })}
          </nav>
          <ConnectionBadge state={live.state} />
          <span className="who">
            {session.keyId} ({session.scopes.join(", ")})
          </span>
          <button type="button" onClick={signOut}>
            Sign out
          </button>
        </header>
        <main className="content">
          <Page route={route} session={session} />
        </main>
      </LiveContext.Provider>
    </SessionContext.Provider>
  );
}

function Page({ route, session }: { route: Route; session: Session }) {
  const needed = route.view === "transaction" ? "read" : route.view === "case" ? "review" : VIEW_SCOPE[route.view];
  if (!can(session, needed)) {
    return <p role="alert">This key lacks the {needed} scope needed here.</p>;
  }
  switch (route.view) {
    case "live":
      return <LiveView />;
    case "queue":
      return <QueueView />;
    case "rules":
      return <RulesView />;
    case "lists":
      return <ListsView />;
    case "alerts":
      return <AlertsView />;
    case "performance":
      return <ReportView />;
    case "drift":
      return <DriftView />;
    case "transaction":
      return <TransactionView id={route.id} scope={route.scope} />;
    case "case":
      return <CaseView id={route.id} />;
  }
}
