import { act, render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { App } from "./App";
import { aggregate, decision, FakeSocket, ME_ALL, mockApi, stubWebSocket } from "./test/fakes";

async function signIn(key = "k-123") {
  render(<App />);
  await userEvent.type(screen.getByTestId("api-key-input"), key);
  await userEvent.click(screen.getByTestId("api-key-submit"));
}

describe("the console shell", () => {
  it("keeps the key in session storage, sends it, and enables the views the scopes allow", async () => {
    stubWebSocket();
    const calls = mockApi({ "GET /v1/me": { body: { key_id: "reader", scopes: ["read", "score"] } } });
    await signIn("secret-key");
    await waitFor(() => expect(screen.getByTestId("nav-live")).toBeInTheDocument());
    expect(sessionStorage.getItem("fraud-console.api-key")).toBe("secret-key");
    expect(calls[0]?.headers.get("Authorization")).toBe("Bearer secret-key");
    expect(screen.getByTestId("nav-live")).not.toHaveAttribute("aria-disabled");
    expect(screen.getByTestId("nav-rules")).toHaveAttribute("href", "#/rules");
    expect(screen.getByTestId("nav-queue")).toHaveAttribute("aria-disabled", "true");
    expect(screen.getByTestId("nav-queue")).not.toHaveAttribute("href");
    expect(FakeSocket.latest().url).toContain("/v1/stream?api_key=secret-key");
  });

  it("disables every view for a score-only key and opens no stream", async () => {
    stubWebSocket();
    mockApi({ "GET /v1/me": { body: { key_id: "gateway", scopes: ["score"] } } });
    await signIn();
    await waitFor(() => expect(screen.getByTestId("nav-live")).toHaveAttribute("aria-disabled", "true"));
    for (const view of ["queue", "rules", "lists", "alerts", "drift"]) {
      expect(screen.getByTestId(`nav-${view}`)).toHaveAttribute("aria-disabled", "true");
    }
    expect(FakeSocket.instances).toHaveLength(0);
    expect(screen.getByTestId("connection-state")).toHaveAttribute("data-state", "closed");
  });

  it("goes back to key entry on a 401", async () => {
    stubWebSocket();
    mockApi({ "GET /v1/me": { status: 401, body: { error: "unauthorized", detail: "unknown API key" } } });
    await signIn("wrong");
    await waitFor(() => expect(screen.getByRole("alert")).toHaveTextContent("refused"));
    expect(screen.getByTestId("api-key-input")).toBeInTheDocument();
    expect(sessionStorage.getItem("fraud-console.api-key")).toBeNull();
  });

  it("shows KPIs from aggregates, the connection state, and the gap after a reconnect", async () => {
    stubWebSocket();
    vi.spyOn(Math, "random").mockReturnValue(0);
    mockApi({ "GET /v1/me": { body: ME_ALL } });
    await signIn();
    const state = await screen.findByTestId("connection-state");
    // "closed" until /v1/me has answered and the stream opens: wait for that, not for render.
    await waitFor(() => expect(state).toHaveAttribute("data-state", "connecting"));

    act(() => {
      FakeSocket.latest().send({ type: "hello", topic: "transactions.scored" });
      FakeSocket.latest().send(aggregate("2026-12-02T10:00:00Z"));
      FakeSocket.latest().send(decision({ transaction_id: "tx_a", risk_tier: "high" }));
    });
    expect(state).toHaveAttribute("data-state", "live");
    await waitFor(() => expect(screen.getByTestId("kpi-throughput")).toHaveAttribute("data-value", "120"));
    expect(screen.getByTestId("kpi-p50")).toHaveAttribute("data-value", "1.25");
    expect(screen.getByTestId("kpi-p99")).toHaveAttribute("data-value", "7.5");
    expect(screen.getByTestId("kpi-degraded")).toHaveAttribute("data-value", "3");
    expect(screen.getByTestId("kpi-declined-amount")).toHaveAttribute("data-value", "400.5");
    expect(screen.getByTestId("kpi-declined-amount")).toHaveTextContent("300.5 EUR");
    expect(screen.getByTestId("kpi-review-amount")).toHaveAttribute("data-value", "1200");
    expect(screen.queryByTestId("gap-notice")).toBeNull();

    act(() => FakeSocket.latest().drop());
    expect(state).toHaveAttribute("data-state", "reconnecting");
    await waitFor(() => expect(FakeSocket.instances).toHaveLength(2)); // after 250 ms
    act(() => {
      FakeSocket.latest().send({ type: "hello", topic: "transactions.scored" });
      FakeSocket.latest().send(aggregate("2026-12-02T10:00:09Z", { count: 5 }));
    });
    await waitFor(() => expect(screen.getByTestId("gap-notice")).toHaveTextContent("missed 8 seconds"));
    expect(state).toHaveAttribute("data-state", "live");
    expect(screen.getByTestId("kpi-throughput")).toHaveAttribute("data-value", "5");
    for (const chart of ["throughput", "latency", "tiers", "scores"]) {
      expect(screen.getByTestId(`chart-${chart}`)).toBeInTheDocument();
    }
    within(screen.getByTestId("feed")).getByText("tx_a");
  });
});
