import { render, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { mockApi } from "../test/fakes";
import { nextMonday, ReportView } from "./ReportView";

const money = (over: Record<string, unknown> = {}) => ({
  currency: "EUR",
  fraud_amount: 150,
  fraud_declined: 100,
  fraud_review: 0,
  fraud_approved: 50,
  legitimate_declined: 30,
  pending_amount: 0,
  value_detection_rate: 100 / 150,
  ...over,
});

const figures = (name: string, mature: boolean, over: Record<string, unknown> = {}) => ({
  name,
  start: "2026-11-02T00:00:00Z",
  end: "2026-11-09T00:00:00Z",
  mature,
  label_age_days: mature ? 21.5 : 3,
  decisions: 7,
  fraud: 2,
  legitimate: 5,
  unlabelled: 3,
  pending: mature ? 0 : 4,
  flagged: 4,
  reviews: 2,
  declines: 2,
  average_precision: 0.7,
  precision: 0.25,
  recall: 0.5,
  false_positive_rate: 0.6,
  review_cost: 6,
  money: [money()],
  ...over,
});

const report = (period: unknown) => ({
  since: "2026-11-02T00:00:00Z",
  until: "2026-11-16T00:00:00Z",
  as_of: "2026-11-30T00:00:00Z",
  label_delay_days: 7,
  cost_per_review: 3,
  weeks: [figures("2026-W45", true), figures("2026-W46", false, { recall: null, money: [money({ pending_amount: 5 })] })],
  period,
  immature: figures("immature weeks", false),
});

describe("ReportView", () => {
  it("shows the mature weeks' headline, the immature weeks apart and the business view", async () => {
    const calls = mockApi({ "GET /v1/reports/performance": { body: report(figures("period", true)) } });
    render(<ReportView now={new Date("2026-11-11T10:00:00Z")} />);
    await waitFor(() => expect(screen.getAllByTestId("report-row")).toHaveLength(4));
    expect(calls[0]?.search).toBe("?since=2026-09-21T00%3A00%3A00Z&until=2026-11-16T00%3A00%3A00Z");
    expect(screen.getByTestId("headline")).toHaveTextContent("mature weeks, from 2026-11-02 until 2026-11-09 (excluded)");
    expect(screen.getByTestId("immature-note")).toHaveTextContent("2026-W46");
    const weekly = screen.getByRole("table", { name: "Weekly" });
    const rows = within(weekly).getAllByTestId("report-row");
    expect(rows.map((r) => r.dataset["mature"])).toEqual(["true", "false"]);
    expect(rows[0]).toHaveTextContent("known 21 d after");
    expect(rows[0]).toHaveTextContent("25.0%");
    expect(rows[1]).toHaveTextContent("immature");
    expect(rows[1]).toHaveTextContent("–"); // no recall without fraud: not 0%
    const eur = screen.getByTestId("money-EUR");
    expect(within(eur).getAllByRole("row")).toHaveLength(5); // header, two weeks, period, immature
    expect(eur).toHaveTextContent("66.7%");
    expect(eur).toHaveTextContent("5.00");
  });

  it("says there is no headline while no week is mature", async () => {
    mockApi({ "GET /v1/reports/performance": { body: report(null) } });
    render(<ReportView now={new Date("2026-11-11T10:00:00Z")} />);
    await waitFor(() => expect(screen.getByTestId("headline")).toHaveTextContent("No week of this period is mature"));
  });

  it("asks again with the cost per review and shows a refusal", async () => {
    const calls = mockApi({
      "GET /v1/reports/performance": (call) =>
        call.search.includes("cost_per_review=-1")
          ? { status: 422, body: { error: "validation_error", detail: [{ field: "cost_per_review", message: "must be 0 or more" }] } }
          : { body: report(figures("period", true)) },
    });
    render(<ReportView now={new Date("2026-11-11T10:00:00Z")} />);
    await waitFor(() => expect(screen.getAllByTestId("report-row")).toHaveLength(4));
    await userEvent.type(screen.getByPlaceholderText("FRAUD_REVIEW_COST"), "-1");
    await waitFor(() => expect(screen.getByRole("alert")).toHaveTextContent("cost_per_review: must be 0 or more"));
    expect(calls.some((c) => c.search.includes("cost_per_review=-1"))).toBe(true);
  });

  it("ends the default period at next Monday", () => {
    expect(nextMonday(new Date("2026-11-11T10:00:00Z"))).toBe("2026-11-16"); // a Wednesday
    expect(nextMonday(new Date("2026-11-16T00:00:00Z"))).toBe("2026-11-23"); // a Monday
    expect(nextMonday(new Date("2026-11-15T23:59:59Z"))).toBe("2026-11-16"); // a Sunday
  });
});
