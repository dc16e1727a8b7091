import { act, render, screen, waitFor } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import type { StreamMessage } from "../live/messages";
import { LiveStore } from "../live/store";
import { LiveContext } from "../live/useLive";
import { decision, mockApi } from "../test/fakes";
import { AlertsView } from "./AlertsView";

const alert = (transaction_id: string, status: string) => ({
  transaction_id,
  sink: "webhook",
  card_id: "card_1",
  scored_at: "2026-12-02T09:00:00Z",
  risk_tier: "critical",
  score: 0.97,
  decision: "decline",
  status,
  attempts: status === "failed" ? 5 : 1,
  last_error: status === "failed" ? "HTTP 500" : null,
  created_at: "2026-12-02T09:00:01Z",
  sent_at: status === "sent" ? "2026-12-02T09:00:02Z" : null,
});

describe("AlertsView", () => {
  it("shows deliveries with their status and the high and critical decisions streamed", async () => {
    const calls = mockApi({
      "GET /v1/alerts": { body: { alerts: [alert("tx_2", "failed"), alert("tx_1", "sent")], next_cursor: null } },
    });
    const frames: (() => void)[] = [];
    const store = new LiveStore((f) => frames.push(f));
    render(
      <LiveContext.Provider value={{ store, state: "live" }}>
        <AlertsView />
      </LiveContext.Provider>,
    );
    await waitFor(() => expect(screen.getAllByTestId("alert-row")).toHaveLength(2));
    expect(screen.getAllByTestId("alert-row").map((r) => r.dataset["status"])).toEqual(["failed", "sent"]);
    expect(screen.getByText("HTTP 500")).toBeInTheDocument();
    expect(calls[0]?.search).toBe("?limit=100");

    store.push(decision({ transaction_id: "calm" }) as StreamMessage);
    store.push(decision({ transaction_id: "hot", risk_tier: "high" }) as StreamMessage);
    act(() => frames.splice(0).forEach((f) => f()));
    expect(screen.getByRole("link", { name: "hot" })).toBeInTheDocument();
    expect(screen.queryByRole("link", { name: "calm" })).toBeNull();
  });
});
