// The typed API client: paths and bodies come from the generated OpenAPI types.
import createClient, { type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema";

export type Schemas = components["schemas"];

const KEY = "fraud-console.api-key";

export const apiKey = {
  get: (): string | null => sessionStorage.getItem(KEY),
  set: (key: string): void => sessionStorage.setItem(KEY, key),
  clear: (): void => sessionStorage.removeItem(KEY),
};

type Listener = () => void;
const unauthorizedListeners = new Set<Listener>();

/** Called when any request comes back 401: the key is gone or wrong. */
export function onUnauthorized(listener: Listener): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

export function notifyUnauthorized(): void {
  apiKey.clear();
  for (const listener of unauthorizedListeners) listener();
}

const auth: Middleware = {
  onRequest({ request }) {
    const key = apiKey.get();
    if (key) request.headers.set("Authorization", `Bearer ${key}`);
    return request;
  },
  onResponse({ response }) {
    if (response.status === 401) notifyUnauthorized();
    return response;
  },
};

export const api = createClient<paths>({
  baseUrl: globalThis.location?.origin ?? "",
  // Looked up on each call, so tests can replace fetch after import.
  fetch: (request) => globalThis.fetch(request),
});
api.use(auth);

/** A readable message from an error body ({error, detail}) or a validation error list. */
export function errorText(error: unknown): string {
  if (error && typeof error === "object" && "detail" in error) {
    const detail = (error as { detail: unknown }).detail;
    if (typeof detail === "string") return detail;
    if (Array.isArray(detail)) {
      return detail
        .map((d: { field?: string; message?: string }) => `${d.field ?? ""}: ${d.message ?? ""}`)
        .join("; ");
    }
    return JSON.stringify(detail);
  }
  return String(error);
}

export function streamUrl(key: string): string {
  const { protocol, host } = globalThis.location;
  const scheme = protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${host}/v1/stream?api_key=${encodeURIComponent(key)}`;
}
