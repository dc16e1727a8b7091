import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { mockApi } from "../test/fakes";
import { renderSignedIn } from "../test/session";
import { TransactionView } from "./TransactionView";

const DETAIL = {
  scope: "3f2a9c0d1e4b5a6c",
  transaction_id: "tx_1",
  scored_at: "2026-12-02T09:00:00Z",
  card_id: "card_1",
  merchant_id: "m_1",
  amount: 99.5,
  currency: "EUR",
  channel: "ecommerce",
  score: 0.91,
  risk_tier: "critical",
  decision: "decline",
  decision_source: "rule:big_ecom",
  model_version: "2026-11-28T12:00:00Z-3f2a",
  degraded: false,
  latency_ms: 1.7,
  stored_at: "2026-12-02T09:00:01Z",
  request: { transaction_id: "tx_1", amount: 99.5, card_id: "card_1" },
  response: {
    score: 0.91,
    components: { xgboost: 0.95, isolation_forest: 0.7 },
    reasons: [
      { feature: "card_count_1h", value: 14, contribution: 0.31 },
      { feature: "amount_vs_mean", value: 3.2, contribution: -0.1 },
    ],
  },
  labels: [],
};

const summary = (id: string) => ({ ...DETAIL, transaction_id: id, request: undefined, response: undefined });

function routes(feedback: { status?: number; body: unknown }) {
  return mockApi({
    "GET /v1/transactions/tx_1": { body: DETAIL },
    "GET /v1/transactions": { body: { items: [summary("tx_1"), summary("tx_0")], next_cursor: null } },
    "POST /v1/feedback": feedback,
  });
}

describe("TransactionView", () => {
  it("shows the stored decision, its source, its reasons and the card's history", async () => {
    const calls = routes({ body: {} });
    renderSignedIn(<TransactionView id="tx_1" />);
    expect(await screen.findByTestId("detail-decision")).toHaveTextContent("decline");
    expect(screen.getByTestId("detail-source")).toHaveTextContent("rule:big_ecom");
    const bars = screen.getAllByTestId("reason-bar");
    expect(bars.map((b) => b.dataset["feature"])).toEqual(["card_count_1h", "amount_vs_mean"]);
    expect(bars[0]).toHaveTextContent("+0.310");
    await waitFor(() => expect(screen.getAllByTestId("history-row")).toHaveLength(2));
    expect(calls.find((c) => c.path === "/v1/transactions")?.search).toBe("?card_id=card_1&limit=20");
    expect(screen.getByText("2026-11-28T12:00:00Z-3f2a")).toBeInTheDocument();
  });

  it("sends a fraud label and shows what was recorded", async () => {
    const calls = routes({
      body: {
        transaction_id: "tx_1",
        label: "fraud",
        source: "analyst",
        reported_at: "2026-12-02T09:05:00Z",
        created: true,
        effective_label: "fraud",
      },
    });
    renderSignedIn(<TransactionView id="tx_1" />);
    await userEvent.click(await screen.findByTestId("feedback-fraud"));
    await waitFor(() =>
      expect(screen.getByTestId("feedback-result")).toHaveTextContent(
        "Recorded: fraud (analyst); effective label now fraud",
      ),
    );
    expect(calls.find((c) => c.method === "POST")?.body).toEqual({
      transaction_id: "tx_1",
      scope: "3f2a9c0d1e4b5a6c",
      label: "fraud",
      source: "analyst",
    });
  });

  it("asks which key's transaction an id scored by several keys means, and opens that one", async () => {
    const calls = mockApi({
      "GET /v1/transactions/tx_1": ({ search }) =>
        search === "?scope=k_b"
          ? { body: { ...DETAIL, scope: "k_b", card_id: "card_b" } }
          : { status: 409, body: { error: "ambiguous_transaction_id", detail: "scored by 2 API keys" } },
      "GET /v1/transactions": ({ search }) =>
        search === "?transaction_id=tx_1"
          ? {
              body: {
                items: [
                  { ...summary("tx_1"), scope: "k_a", card_id: "card_a" },
                  { ...summary("tx_1"), scope: "k_b", card_id: "card_b" },
                ],
                next_cursor: null,
              },
            }
          : { body: { items: [], next_cursor: null } },
    });
    const { unmount } = renderSignedIn(<TransactionView id="tx_1" />);
    const links = within(await screen.findByTestId("detail-scopes")).getAllByRole("link");
    expect(links.map((a) => a.getAttribute("href"))).toEqual(["#/transactions/k_a/tx_1", "#/transactions/k_b/tx_1"]);
    expect(screen.getByTestId("detail-scopes")).toHaveTextContent("card_b");
    unmount();
    renderSignedIn(<TransactionView id="tx_1" scope="k_b" />);
    expect(await screen.findByTestId("detail-scope")).toHaveTextContent("k_b");
    expect(calls.filter((c) => c.path === "/v1/transactions/tx_1").map((c) => c.search)).toEqual(["", "?scope=k_b"]);
  });

  it("shows a refused label", async () => {
    routes({ status: 404, body: { error: "not_found", detail: "transaction tx_1 is not stored" } });
    renderSignedIn(<TransactionView id="tx_1" />);
    await userEvent.click(await screen.findByTestId("feedback-legitimate"));
    await waitFor(() =>
      expect(screen.getByTestId("feedback-result")).toHaveTextContent("Not recorded: transaction tx_1 is not stored"),
    );
  });

  it("offers no labelling to a read-only key", async () => {
    routes({ body: {} });
    renderSignedIn(<TransactionView id="tx_1" />, ["read"]);
    await screen.findByTestId("detail");
    expect(screen.queryByTestId("feedback-fraud")).toBeNull();
  });

  it("waits for a decision the consumer has not stored yet", async () => {
    let asked = 0;
    mockApi({
      "GET /v1/transactions/tx_1": () => {
        asked += 1;
        return asked === 1 ? { status: 404, body: { error: "not_found", detail: "no such transaction" } } : { body: DETAIL };
      },
      "GET /v1/transactions": { body: { items: [], next_cursor: null } },
    });
    renderSignedIn(<TransactionView id="tx_1" />);
    expect(await screen.findByText("Waiting for tx_1 to be stored…")).toBeInTheDocument();
    expect(await screen.findByTestId("detail-decision", {}, { timeout: 3_000 })).toHaveTextContent("decline");
    expect(asked).toBe(2);
  });
});
