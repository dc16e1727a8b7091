import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { mockApi } from "../test/fakes";
import { renderSignedIn } from "../test/session";
import { ListsView } from "./ListsView";

const ENTRY = {
  id: 5,
  entity: "card",
  value: "card_9",
  action: "block",
  reason: "case 7",
  expires_at: null,
  created_at: "2026-12-02T09:00:00Z",
  created_by: "admin01",
  deleted_at: null,
  deleted_by: null,
};

describe("ListsView", () => {
  it("adds an entry with an expiry and removes one", async () => {
    let items = [ENTRY];
    const calls = mockApi({
      "GET /v1/lists": () => ({ body: { items, next_cursor: null } }),
      "POST /v1/lists": (call) => {
        const added = { ...ENTRY, id: 6, ...(call.body as object) };
        items = [added, ...items];
        return { status: 201, body: added };
      },
      "DELETE /v1/lists/5": () => {
        items = items.filter((e) => e.id !== 5);
        return { body: { ...ENTRY, deleted_at: "2026-12-02T10:00:00Z" } };
      },
    });
    renderSignedIn(<ListsView />);
    await screen.findByTestId("list-row");
    await userEvent.selectOptions(screen.getByTestId("list-entity"), "ip");
    await userEvent.type(screen.getByTestId("list-value"), "198.51.100.7");
    await userEvent.selectOptions(screen.getByTestId("list-action"), "review");
    await userEvent.type(screen.getByTestId("list-reason"), "proxy");
    await userEvent.type(screen.getByTestId("list-expires"), "2027-01-31T12:00");
    await userEvent.click(screen.getByTestId("list-add"));
    await waitFor(() => expect(screen.getAllByTestId("list-row")).toHaveLength(2));
    const post = calls.find((c) => c.method === "POST")?.body as Record<string, string>;
    expect(post).toMatchObject({ entity: "ip", value: "198.51.100.7", action: "review", reason: "proxy" });
    expect(new Date(post["expires_at"] ?? "").getTime()).toBe(new Date("2027-01-31T12:00").getTime());

    const row = screen.getAllByTestId("list-row").find((r) => r.dataset["entryId"] === "5");
    await userEvent.click(within(row as HTMLElement).getByTestId("list-remove"));
    await waitFor(() => expect(screen.getAllByTestId("list-row")).toHaveLength(1));
  });

  it("shows the API's refusal", async () => {
    mockApi({
      "GET /v1/lists": { body: { items: [], next_cursor: null } },
      "POST /v1/lists": {
        status: 422,
        body: { error: "validation_error", detail: [{ field: "value", message: "not an IP address or network", type: "value_error" }] },
      },
    });
    renderSignedIn(<ListsView />);
    await userEvent.selectOptions(await screen.findByTestId("list-entity"), "ip");
    await userEvent.type(screen.getByTestId("list-value"), "nope");
    await userEvent.type(screen.getByTestId("list-reason"), "x");
    await userEvent.click(screen.getByTestId("list-add"));
    expect(await screen.findByTestId("list-error")).toHaveTextContent("value: not an IP address or network");
    expect(screen.queryAllByTestId("list-row")).toHaveLength(0);
  });
});
