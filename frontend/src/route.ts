// Hash routes: #/live, #/queue, #/rules, #/lists, #/alerts, #/performance, #/drift,
// #/cases/<id>, and
// #/transactions/<scope>/<id> (a transaction id is unique within the scope of the key that
// scored it) or #/transactions/<id> (the API finds the scope, or names several).
import { useSyncExternalStore } from "react";

export type Route =
  | { view: "live" | "queue" | "rules" | "lists" | "alerts" | "performance" | "drift" }
  | { view: "transaction"; id: string; scope?: string }
  | { view: "case"; id: string };

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, "").split("/");
  const [head, id, scoped] = parts;
  if (head === "transactions" && id !== undefined && scoped) {
    return { view: "transaction", scope: decodeURIComponent(id), id: decodeURIComponent(scoped) };
  }
  if (head === "transactions" && id) return { view: "transaction", id: decodeURIComponent(id) };
  if (head === "cases" && id) return { view: "case", id: decodeURIComponent(id) };
  if (
    head === "queue" ||
    head === "rules" ||
    head === "lists" ||
    head === "alerts" ||
    head === "performance" ||
    head === "drift"
  ) {
    return { view: head };
  }
  return { view: "live" };
}

// The investigation of one stored transaction; `scope` as the API names it.
export function transactionPath(id: string, scope?: string | null): string {
  const named = scope == null ? "" : `${encodeURIComponent(scope)}/`;
  return `/transactions/${named}${encodeURIComponent(id)}`;
}

export function navigate(path: string): void {
  window.location.hash = path;
}

function subscribe(listener: () => void): () => void {
  window.addEventListener("hashchange", listener);
  return () => window.removeEventListener("hashchange", listener);
}

export function useHash(): string {
  return useSyncExternalStore(subscribe, () => window.location.hash);
}
