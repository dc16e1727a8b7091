import { render, screen, waitFor } from "@testing-library/react";
import { describe, expect, it } from "vitest";
import { mockApi } from "../test/fakes";
import { DriftView, level } from "./DriftView";

const report = {
  model_version: "2026-12-07T12:00:00Z-ab12",
  available: true,
  reason: null,
  window_s: 3600,
  rows: 4210,
  min_rows: 500,
  reference_rows: 61234,
  score_psi: 0.04,
  features: [
    { feature: "amount_log", psi: 0.31, missing_share: 0, reference_missing_share: 0 },
    { feature: "card_count_1h", psi: 0.12, missing_share: 0.2, reference_missing_share: 0.1 },
    { feature: "mcc_risk", psi: 0.01, missing_share: 0, reference_missing_share: 0 },
  ],
};

describe("DriftView", () => {
  it("lists the watched features, the most drifted first, with their level and missing shares", async () => {
    const calls = mockApi({ "GET /v1/model/drift": { body: report } });
    render(<DriftView />);
    await waitFor(() => expect(screen.getAllByTestId("drift-row")).toHaveLength(3));
    const rows = screen.getAllByTestId("drift-row");
    expect(rows.map((r) => r.dataset["level"])).toEqual(["significant", "moderate", "stable"]);
    expect(rows[0]).toHaveTextContent("amount_log");
    expect(rows[0]).toHaveTextContent("0.310");
    expect(rows[1]).toHaveTextContent("20.0%");
    expect(rows[1]).toHaveTextContent("10.0%");
    expect(screen.getByTestId("drift-summary")).toHaveTextContent("the last 60 minutes (4210 transactions)");
    expect(calls[0]?.path).toBe("/v1/model/drift");
  });

  it("says why there are no figures", async () => {
    mockApi({
      "GET /v1/model/drift": {
        body: {
          ...report,
          available: false,
          reason: "the model bundle has no drift reference: retrain it with `fraud train`",
          features: [],
        },
      },
    });
    render(<DriftView />);
    await waitFor(() => expect(screen.getByRole("status")).toHaveTextContent("no drift reference"));
    expect(screen.queryAllByTestId("drift-row")).toHaveLength(0);
  });

  it("reads a PSI at the usual thresholds", () => {
    expect([null, 0.05, 0.1, 0.19, 0.2, 1].map(level)).toEqual([
      "none",
      "stable",
      "moderate",
      "moderate",
      "significant",
      "significant",
    ]);
  });
});
