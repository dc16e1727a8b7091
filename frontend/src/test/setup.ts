import "@testing-library/jest-dom/vitest";
import { cleanup } from "@testing-library/react";
import { afterEach, vi } from "vitest";

// uPlot draws on a canvas, which jsdom does not have; the charts' data is tested
// through the live store instead.
vi.mock("uplot", () => {
  class FakePlot {
    static paths = { bars: () => () => null };
    data: unknown;
    constructor(_options: unknown, data: unknown) {
      this.data = data;
    }
    setData(data: unknown) {
      this.data = data;
    }
    setSize() {}
    destroy() {}
  }
  return { default: FakePlot };
});

afterEach(() => {
  cleanup();
  sessionStorage.clear();
  window.location.hash = "";
  vi.unstubAllGlobals();
});

// jsdom lays nothing out: give elements a size so the virtualised feed renders a window.
Object.defineProperty(HTMLElement.prototype, "clientHeight", { configurable: true, get: () => 480 });
Object.defineProperty(HTMLElement.prototype, "clientWidth", { configurable: true, get: () => 800 });
