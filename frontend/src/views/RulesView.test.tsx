import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { mockApi } from "../test/fakes";
import { renderSignedIn } from "../test/session";
import { RulesView } from "./RulesView";

const RULE = {
  id: "big_ecom",
  description: "large e-commerce",
  condition: 'amount > 2000 and channel == "ecommerce"',
  action: "review",
  mode: "active",
  priority: 10,
  version: 3,
  updated_at: "2026-12-01T00:00:00Z",
  updated_by: "admin01",
};

const HITS = {
  since: "2026-12-01T10:00:00Z",
  until: "2026-12-02T10:00:00Z",
  hits: [
    { rule_id: "big_ecom", mode: "active", count: 42 },
    { rule_id: "big_ecom", mode: "shadow", count: 5 },
  ],
};

describe("RulesView", () => {
  it("lists rules with their active and shadow hits", async () => {
    const calls = mockApi({ "GET /v1/rules": { body: { version: 3, rules: [RULE] } }, "GET /v1/rules/hits": { body: HITS } });
    renderSignedIn(<RulesView />);
    const row = await screen.findByTestId("rule-row");
    expect(row).toHaveAttribute("data-rule-id", "big_ecom");
    expect(within(row).getByTestId("rule-hits-active")).toHaveTextContent("42");
    expect(within(row).getByTestId("rule-hits-shadow")).toHaveTextContent("5");
    expect(calls.find((c) => c.path === "/v1/rules/hits")?.search).toBe("?hours=24");
  });

  it("marks a rule that raised while scoring, and only that one", async () => {
    const broken = {
      ...RULE,
      id: "deep",
      errors: {
        batches: 3,
        error: "RecursionError: maximum recursion depth exceeded",
        first_at: "2026-12-01T10:00:00Z",
        last_at: "2026-12-01T10:05:00Z",
      },
    };
    mockApi({
      "GET /v1/rules": { body: { version: 4, rules: [{ ...RULE, errors: null }, broken] } },
      "GET /v1/rules/hits": { body: HITS },
    });
    renderSignedIn(<RulesView />);
    await screen.findAllByTestId("rule-row");
    const row = (id: string) => screen.getAllByTestId("rule-row").find((r) => r.dataset.ruleId === id)!;
    expect(within(row("big_ecom")).queryByTestId("rule-errors")).toBeNull();
    const marked = within(row("deep")).getByTestId("rule-errors");
    expect(marked).toHaveAttribute("role", "alert");
    expect(marked).toHaveTextContent("Skipped: raised while scoring in 3 batches");
    expect(marked).toHaveTextContent("RecursionError: maximum recursion depth exceeded");
  });

  it("marks the condition where the API says it is wrong, and saves nothing", async () => {
    const condition = "amount > 2000 and chanel == 1";
    const calls = mockApi({
      "GET /v1/rules": { body: { version: 0, rules: [] } },
      "GET /v1/rules/hits": { body: { ...HITS, hits: [] } },
      "PUT /v1/rules/bad_rule": {
        status: 422,
        body: {
          error: "validation_error",
          detail: [{ field: "condition", message: "unknown name 'chanel'", type: "rule", position: 18 }],
        },
      },
    });
    renderSignedIn(<RulesView />);
    await userEvent.click(await screen.findByTestId("rule-new"));
    await userEvent.type(screen.getByTestId("rule-id"), "bad_rule");
    await userEvent.type(screen.getByTestId("rule-condition"), condition);
    await userEvent.click(screen.getByTestId("rule-save"));
    const error = await screen.findByTestId("rule-error");
    expect(error).toHaveTextContent("unknown name 'chanel'");
    expect(error).toHaveTextContent("position 18");
    const mark = within(error).getByTestId("rule-error-mark");
    expect(mark).toHaveTextContent("c");
    expect(mark).toHaveAttribute("data-position", "18");
    expect(mark.parentElement).toHaveTextContent(condition);
    const put = calls.find((c) => c.method === "PUT");
    expect(put?.body).toMatchObject({ condition, action: "review", mode: "shadow", expected_version: 0 });
    expect(screen.getByTestId("rule-condition")).toHaveValue(condition); // the form stays open
  });

  it("shows a backtest's result before saving", async () => {
    const calls = mockApi({
      "GET /v1/rules": { body: { version: 3, rules: [RULE] } },
      "GET /v1/rules/hits": { body: HITS },
      "POST /v1/rules/backtest": {
        body: {
          condition: RULE.condition,
          action: "decline",
          since: "2026-11-25T00:00:00Z",
          until: "2026-12-02T00:00:00Z",
          rows: 1000,
          hits: 12,
          hits_fraud: 9,
          hits_legitimate: 2,
          hits_unlabelled: 1,
          fraud: 20,
          recall: 0.45,
          precision: 0.818,
          fraud_amount_caught: { EUR: 5000 },
          fraud_amount_total: { EUR: 9000 },
          decision_changes: { review: { decline: 10 }, approve: { decline: 2 } },
          kept_by_list: 0,
        },
      },
    });
    renderSignedIn(<RulesView />);
    await screen.findByTestId("rule-row");
    await userEvent.click(screen.getByRole("button", { name: "Edit" }));
    expect(screen.getByTestId("rule-id")).toBeDisabled();
    await userEvent.selectOptions(screen.getByTestId("rule-action"), "decline");
    await userEvent.click(screen.getByTestId("rule-backtest"));
    const result = await screen.findByTestId("backtest-result");
    expect(result).toHaveTextContent("12 of 1000 transactions hit");
    expect(result).toHaveTextContent("recall 45.0%");
    expect(result).toHaveTextContent("review → decline: 10, approve → decline: 2");
    expect(calls.find((c) => c.method === "POST")?.body).toMatchObject({ condition: RULE.condition, action: "decline" });
    expect(calls.some((c) => c.method === "PUT")).toBe(false);
  });

  it("offers no editing to a read-only key", async () => {
    mockApi({ "GET /v1/rules": { body: { version: 3, rules: [RULE] } }, "GET /v1/rules/hits": { body: HITS } });
    renderSignedIn(<RulesView />, ["read"]);
    await screen.findByTestId("rule-row");
    await waitFor(() => expect(screen.queryByTestId("rule-new")).toBeNull());
    expect(screen.queryByRole("button", { name: "Edit" })).toBeNull();
  });
});
