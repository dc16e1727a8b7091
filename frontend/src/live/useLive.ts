// Runs one stream connection for the signed-in console and feeds the live store.
import { createContext, useContext, useEffect, useState, useSyncExternalStore } from "react";
import { notifyUnauthorized, streamUrl } from "../api/client";
import { type ConnectionOptions, type ConnectionState, StreamConnection } from "./connection";
import { type LiveSnapshot, LiveStore } from "./store";

export interface Live {
  store: LiveStore;
  state: ConnectionState;
}

export const LiveContext = createContext<Live | null>(null);

export function useLiveConnection(key: string | null, options?: ConnectionOptions): Live {
  const [store] = useState(() => new LiveStore());
  const [state, setState] = useState<ConnectionState>(key ? "connecting" : "closed");
  useEffect(() => {
    if (!key) return;
    setState("connecting");
    const connection = new StreamConnection(
      streamUrl(key),
      {
        message: (message) => store.push(message),
        state: (next) => {
          if (next === "reconnecting") store.disconnected();
          setState(next);
        },
        unauthorized: notifyUnauthorized,
      },
      options,
    );
    connection.start();
    return () => connection.stop();
  }, [key, store, options]);
  return { store, state };
}

export function useLive(): Live | null {
  return useContext(LiveContext);
}

const EMPTY = new LiveStore();

export function useLiveSnapshot(): LiveSnapshot {
  const store = useLive()?.store ?? EMPTY;
  return useSyncExternalStore(store.subscribe, store.getSnapshot);
}
