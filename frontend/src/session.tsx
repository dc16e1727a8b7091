// Who is signed in: the key's id and scopes from GET /v1/me.
import { createContext, useContext } from "react";

export type Scope = "score" | "read" | "review" | "admin";

export interface Session {
  keyId: string;
  scopes: readonly string[];
  signOut(): void;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error("useSession outside a signed-in console");
  return session;
}

export function can(session: Session, scope: Scope): boolean {
  return session.scopes.includes(scope) || session.scopes.includes("admin");
}

/** The scope each view needs. */
export const VIEW_SCOPE = {
  live: "read",
  queue: "review",
  rules: "read",
  lists: "read",
  alerts: "read",
  performance: "read",
  drift: "read",
} as const satisfies Record<string, Scope>;
