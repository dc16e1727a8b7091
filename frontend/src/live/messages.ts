// WS /v1/stream messages. The WebSocket is not in the OpenAPI document, so its
// messages are written here, from live/aggregates.py and the console contract.
export type Tier = "low" | "medium" | "high" | "critical";
export type Decision = "approve" | "review" | "decline";

export const TIERS: readonly Tier[] = ["low", "medium", "high", "critical"];
export const DECISIONS: readonly Decision[] = ["approve", "review", "decline"];

export interface DecisionMessage {
  type: "decision";
  scope?: string; // the id of the API key that scored it (absent before scopes)
  transaction_id: string;
  scored_at: string;
  card_id: string;
  merchant_id: string;
  amount: number;
  currency: string;
  channel: string;
  score: number;
  risk_tier: Tier;
  decision: Decision;
  degraded: boolean;
  latency_ms: number | null;
  reasons: string[];
  decision_source?: string;
  rules?: { id: string; action: string; mode: string }[];
  model_version?: string;
}

export interface AggregateMessage {
  type: "aggregate";
  second: string;
  count: number;
  tiers: Record<Tier, number>;
  decisions: Record<Decision, number>;
  degraded: number;
  latency_ms: { p50: number | null; p99: number | null };
  amount_at_risk: Record<string, number>;
  declined_amount?: Record<string, number>;
  review_amount?: Record<string, number>;
}

export interface HelloMessage {
  type: "hello";
  topic: string;
}

export interface DroppedMessage {
  type: "dropped";
  count: number;
}

export type StreamMessage = DecisionMessage | AggregateMessage | HelloMessage | DroppedMessage;
