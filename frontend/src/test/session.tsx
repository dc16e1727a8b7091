import { render } from "@testing-library/react";
import type { ReactNode } from "react";
import { SessionContext } from "../session";

export function renderSignedIn(ui: ReactNode, scopes = ["admin", "read", "review", "score"]) {
  return render(
    <SessionContext.Provider value={{ keyId: "analyst01", scopes, signOut: () => {} }}>{ui}</SessionContext.Provider>,
  );
}
