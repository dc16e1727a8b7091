// Hash routes: #/live, #/queue, #/rules, #/lists, #/alerts, #/transactions/<id>, #/cases/<id>.
import { useSyncExternalStore } from "react";

export type Route =
  | { view: "live" | "queue" | "rules" | "lists" | "alerts" }
  | { view: "transaction"; id: string }
  | { view: "case"; id: string };

export function parseRoute(hash: string): Route {
  const parts = hash.replace(/^#\/?/, "").split("/");
  const [head, id] = parts;
  if (head === "transactions" && id) return { view: "transaction", id: decodeURIComponent(id) };
  if (head === "cases" && id) return { view: "case", id: decodeURIComponent(id) };
  if (head === "queue" || head === "rules" || head === "lists" || head === "alerts") {
    return { view: head };
  }
  return { view: "live" };
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
