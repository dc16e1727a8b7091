import { fireEvent, screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { mockApi } from "../test/fakes";
import { renderSignedIn } from "../test/session";
import { CaseView } from "./CaseView";
import { QueueView } from "./QueueView";

const CASE = {
  id: 7,
  card_id: "card_9",
  status: "open",
  assignee: null,
  risk_tier: "high",
  opened_at: "2026-12-02T09:00:00Z",
  updated_at: "2026-12-02T09:00:00Z",
  first_transaction_at: "2026-12-02T08:59:00Z",
  last_transaction_at: "2026-12-02T09:00:00Z",
  transaction_count: 1,
  total_amount: 420,
  verdict: null,
  note: null,
  resolved_by: null,
  resolved_at: null,
};

const DETAIL = {
  ...CASE,
  transactions: [
    {
      transaction_id: "tx_9",
      scored_at: "2026-12-02T09:00:00Z",
      event_time: "2026-12-02T09:00:00Z",
      merchant_id: "m_1",
      amount: 420,
      currency: "EUR",
      channel: "ecommerce",
      score: 0.8,
      risk_tier: "high",
      decision: "review",
      model_version: "v1",
      degraded: false,
      reasons: [],
      components: {},
      rules: [],
      list_match: null,
      decision_source: "model",
      added_at: "2026-12-02T09:00:01Z",
      label: null,
    },
  ],
  card_history: [],
};

describe("the review queue", () => {
  it("lists open cases oldest first and moves with j/k, opens with Enter", async () => {
    mockApi({
      "GET /v1/cases": {
        body: {
          items: [
            { ...CASE, id: 2, opened_at: "2026-12-02T10:00:00Z" },
            { ...CASE, id: 1, opened_at: "2026-12-02T08:00:00Z" },
          ],
          next_cursor: null,
          total: 2,
        },
      },
    });
    renderSignedIn(<QueueView />);
    await waitFor(() => expect(screen.getAllByTestId("case-row")).toHaveLength(2));
    const rows = screen.getAllByTestId("case-row");
    expect(rows.map((r) => r.dataset["caseId"])).toEqual(["1", "2"]);
    expect(rows[0]).toHaveAttribute("aria-selected", "true");
    fireEvent.keyDown(window, { key: "j" });
    expect(screen.getAllByTestId("case-row")[1]).toHaveAttribute("aria-selected", "true");
    fireEvent.keyDown(window, { key: "Enter" });
    expect(window.location.hash).toBe("#/cases/2");
  });

  it("heads the queue with the API's count of open cases, not the page's", async () => {
    mockApi({
      "GET /v1/cases": {
        body: { items: [{ ...CASE, id: 1 }, { ...CASE, id: 2 }], next_cursor: "c2", total: 1353 },
      },
    });
    renderSignedIn(<QueueView />);
    expect(
      await screen.findByRole("heading", { name: "Review queue (1,353 open, the oldest 2 shown)" }),
    ).toBeInTheDocument();
  });

  it("pages to more cases with the API's cursor", async () => {
    const calls = mockApi({
      "GET /v1/cases": (call) =>
        call.search.includes("cursor=c2")
          ? { body: { items: [{ ...CASE, id: 3, opened_at: "2026-12-02T11:00:00Z" }], next_cursor: null, total: 2 } }
          : { body: { items: [{ ...CASE, id: 1 }], next_cursor: "c2", total: 2 } },
    });
    renderSignedIn(<QueueView />);
    await userEvent.click(await screen.findByRole("button", { name: "More cases…" }));
    await waitFor(() => expect(screen.getAllByTestId("case-row")).toHaveLength(2));
    expect(calls[1]?.search).toBe("?limit=200&cursor=c2");
    expect(screen.queryByRole("button", { name: "More cases…" })).toBeNull();
  });

  it("assigns a case to me and resolves it with a note, blocking the card", async () => {
    let current: Record<string, unknown> = DETAIL;
    const calls = mockApi({
      "GET /v1/cases/7": () => ({ body: current }),
      "POST /v1/cases/7/assign": () => {
        current = { ...DETAIL, status: "assigned", assignee: "analyst01" };
        return { body: current };
      },
      "POST /v1/cases/7/resolve": () => {
        current = { ...DETAIL, status: "closed", verdict: "fraud" };
        return { body: { ...current, labelled: 1, list_entry: { id: 31, entity: "card", value: "card_9" } } };
      },
    });
    renderSignedIn(<CaseView id="7" />);
    await screen.findByTestId("case-assign");
    fireEvent.keyDown(window, { key: "a" });
    await screen.findByText(/assigned to analyst01/);
    expect(calls.find((c) => c.path.endsWith("/assign"))?.body).toEqual({ assignee: "analyst01" });

    await userEvent.type(screen.getByTestId("case-note"), "cardholder denies it");
    await userEvent.click(screen.getByTestId("case-block-card"));
    await userEvent.click(screen.getByTestId("case-verdict-fraud"));
    await waitFor(() =>
      expect(screen.getByTestId("case-result")).toHaveTextContent(
        "Resolved as fraud: 1 transactions labelled; card blocked (list entry 31)",
      ),
    );
    const resolve = calls.find((c) => c.path.endsWith("/resolve"));
    expect(resolve?.body).toEqual({
      verdict: "fraud",
      note: "cardholder denies it",
      block_card: { reason: "case 7: fraud" },
    });
    await waitFor(() => expect(screen.getByTestId("case-verdict-legitimate")).toBeDisabled());
  });

  it("shows a refused resolution and keeps the case open", async () => {
    const calls = mockApi({
      "GET /v1/cases/7": { body: DETAIL },
      "POST /v1/cases/7/resolve": { status: 409, body: { error: "conflict", detail: "case 7 is already closed" } },
    });
    renderSignedIn(<CaseView id="7" />);
    await screen.findByTestId("case-assign");
    await userEvent.type(screen.getByTestId("case-note"), "f and l typed here are text");
    const resolves = () => calls.filter((c) => c.path.endsWith("/resolve")).length;
    expect(resolves()).toBe(0); // shortcuts stay quiet while typing
    await userEvent.click(screen.getByTestId("case-verdict-legitimate"));
    await waitFor(() =>
      expect(screen.getByTestId("case-result")).toHaveTextContent("Not resolved: case 7 is already closed"),
    );
    expect(resolves()).toBe(1);
  });
});
