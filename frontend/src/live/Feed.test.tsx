import { act, fireEvent, render, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { decision } from "../test/fakes";
import { Feed } from "./Feed";
import type { StreamMessage } from "./messages";
import { LiveStore } from "./store";
import { LiveContext } from "./useLive";

function setup() {
  const frames: (() => void)[] = [];
  const store = new LiveStore((callback) => frames.push(callback));
  render(
    <LiveContext.Provider value={{ store, state: "live" }}>
      <Feed />
    </LiveContext.Provider>,
  );
  const send = (...messages: object[]) => messages.forEach((m) => store.push(m as StreamMessage));
  const frame = () => act(() => frames.splice(0).forEach((f) => f()));
  return { send, frame };
}

const ids = () => screen.queryAllByTestId("feed-row").map((row) => row.dataset["transactionId"]);

describe("Feed", () => {
  it("shows a frame's decisions at once, newest first, tier-coded", () => {
    const { send, frame } = setup();
    send(decision({ transaction_id: "t1" }), decision({ transaction_id: "t2", risk_tier: "critical" }));
    expect(ids()).toEqual([]); // nothing before the animation frame
    frame();
    expect(ids()).toEqual(["t2", "t1"]);
    expect(screen.getAllByTestId("feed-row")[0]).toHaveAttribute("data-tier", "critical");
  });

  it("renders a window of a long feed, not every row", () => {
    const { send, frame } = setup();
    send(...Array.from({ length: 2_000 }, (_, i) => decision({ transaction_id: `r${i}` })));
    frame();
    const rendered = screen.getAllByTestId("feed-row");
    expect(rendered.length).toBeGreaterThan(5);
    expect(rendered.length).toBeLessThan(60);
    expect(rendered[0]).toHaveAttribute("data-transaction-id", "r1999");
  });

  it("filters by tier, decision and rule", async () => {
    const { send, frame } = setup();
    send(
      decision({ transaction_id: "low" }),
      decision({ transaction_id: "crit", risk_tier: "critical", decision: "decline" }),
      decision({
        transaction_id: "ruled",
        risk_tier: "medium",
        decision: "review",
        decision_source: "rule:big_ecom",
        rules: [{ id: "big_ecom", action: "review", mode: "active" }],
      }),
      decision({ transaction_id: "shadowed", rules: [{ id: "night_atm", action: "decline", mode: "shadow" }] }),
    );
    frame();
    await userEvent.selectOptions(screen.getByTestId("feed-filter-tier"), "critical");
    expect(ids()).toEqual(["crit"]);
    await userEvent.selectOptions(screen.getByTestId("feed-filter-tier"), "");
    await userEvent.selectOptions(screen.getByTestId("feed-filter-decision"), "review");
    expect(ids()).toEqual(["ruled"]);
    await userEvent.selectOptions(screen.getByTestId("feed-filter-decision"), "");
    await userEvent.type(screen.getByTestId("feed-filter-rule"), "night");
    expect(ids()).toEqual(["shadowed"]);
  });

  it("holds still while paused and catches up on resume", async () => {
    const { send, frame } = setup();
    send(decision({ transaction_id: "before" }));
    frame();
    await userEvent.click(screen.getByTestId("feed-pause"));
    expect(screen.getByTestId("feed-pause")).toHaveAttribute("aria-pressed", "true");
    send(decision({ transaction_id: "during" }));
    frame();
    expect(ids()).toEqual(["before"]);
    expect(screen.getByTestId("feed-pause")).toHaveTextContent("1+ new");
    await userEvent.click(screen.getByTestId("feed-pause"));
    expect(ids()).toEqual(["during", "before"]);
  });

  it("opens a decision with Enter or a click", () => {
    const { send, frame } = setup();
    send(decision({ transaction_id: "tx:9" }));
    frame();
    const row = screen.getByTestId("feed-row");
    fireEvent.keyDown(row, { key: "Enter" });
    expect(window.location.hash).toBe("#/transactions/tx%3A9");
    window.location.hash = "";
    fireEvent.click(row);
    expect(window.location.hash).toBe("#/transactions/tx%3A9");
  });

  it("opens a decision within the scope of the key that scored it", () => {
    const { send, frame } = setup();
    send(decision({ transaction_id: "tx_9", scope: "3f2a9c0d1e4b5a6c" }));
    frame();
    fireEvent.click(screen.getByTestId("feed-row"));
    expect(window.location.hash).toBe("#/transactions/3f2a9c0d1e4b5a6c/tx_9");
  });
});
