// A fetch that answers from a table of routes, and a WebSocket the test drives.
import { vi } from "vitest";

export interface Call {
  method: string;
  path: string;
  search: string;
  body: unknown;
  headers: Headers;
}

type Answer = { status?: number; body: unknown } | ((call: Call) => { status?: number; body: unknown });

export function mockApi(routes: Record<string, Answer>): Call[] {
  const calls: Call[] = [];
  vi.stubGlobal(
    "fetch",
    vi.fn(async (request: Request) => {
      const url = new URL(request.url);
      const text = request.method === "GET" ? "" : await request.text();
      const call: Call = {
        method: request.method,
        path: url.pathname,
        search: url.search,
        body: text ? JSON.parse(text) : undefined,
        headers: request.headers,
      };
      calls.push(call);
      const answer = routes[`${call.method} ${call.path}`];
      if (!answer) return json(404, { error: "not_found", detail: `${call.method} ${call.path}` });
      const { status = 200, body } = typeof answer === "function" ? answer(call) : answer;
      return json(status, body);
    }),
  );
  return calls;
}

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });
}

export class FakeSocket {
  static instances: FakeSocket[] = [];
  onmessage: ((event: MessageEvent) => void) | null = null;
  onclose: ((event: CloseEvent) => void) | null = null;
  closed = false;

  constructor(public url: string) {
    FakeSocket.instances.push(this);
  }

  send(message: object): void {
    this.onmessage?.({ data: JSON.stringify(message) } as MessageEvent);
  }

  drop(code = 1006): void {
    this.onclose?.({ code } as CloseEvent);
  }

  close(): void {
    this.closed = true;
  }

  static latest(): FakeSocket {
    const socket = FakeSocket.instances[FakeSocket.instances.length - 1];
    if (!socket) throw new Error("no socket opened");
    return socket;
  }
}

export function stubWebSocket(): void {
  FakeSocket.instances = [];
  vi.stubGlobal("WebSocket", FakeSocket);
}

export function aggregate(second: string, overrides: Record<string, unknown> = {}) {
  return {
    type: "aggregate",
    second,
    count: 120,
    tiers: { low: 100, medium: 12, high: 6, critical: 2 },
    decisions: { approve: 100, review: 18, decline: 2 },
    degraded: 3,
    latency_ms: { p50: 1.25, p99: 7.5 },
    amount_at_risk: { EUR: 900 },
    declined_amount: { EUR: 300.5, USD: 100 },
    review_amount: { EUR: 1200 },
    ...overrides,
  };
}

let serial = 0;

export function decision(overrides: Record<string, unknown> = {}) {
  serial += 1;
  return {
    type: "decision",
    transaction_id: `tx_${serial}`,
    scored_at: "2026-12-02T10:00:00.000Z",
    card_id: "card_1",
    merchant_id: "m_1",
    amount: 42,
    currency: "EUR",
    channel: "ecommerce",
    score: 0.1,
    risk_tier: "low",
    decision: "approve",
    degraded: false,
    latency_ms: 1.2,
    reasons: [],
    decision_source: "model",
    rules: [],
    model_version: "v1",
    ...overrides,
  };
}

export const ME_ALL = { key_id: "analyst01", scopes: ["admin", "read", "review", "score"] };
