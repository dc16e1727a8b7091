import { useMemo } from "react";
import uPlot from "uplot";
import { TIERS } from "./messages";
import { SCORE_BINS, SCORE_SAMPLE, scoreHistogram } from "./store";
import { useLiveSnapshot } from "./useLive";
import { Chart } from "./Chart";

export const TIER_COLOURS = {
  low: "#2e7d32",
  medium: "#f9a825",
  high: "#ef6c00",
  critical: "#c62828",
} as const;

const time = { time: true };

const THROUGHPUT: Omit<uPlot.Options, "width" | "height"> = {
  scales: { x: time },
  series: [{}, { label: "decisions/s", stroke: "#1565c0", width: 1.5 }],
};

const LATENCY: Omit<uPlot.Options, "width" | "height"> = {
  scales: { x: time },
  series: [
    {},
    { label: "p50 ms", stroke: "#2e7d32", width: 1.5 },
    { label: "p99 ms", stroke: "#c62828", width: 1.5 },
  ],
};

const TIER_MIX: Omit<uPlot.Options, "width" | "height"> = {
  scales: { x: time, y: { range: [0, 100] } },
  series: [{}, ...TIERS.map((t) => ({ label: `${t} %`, stroke: TIER_COLOURS[t], width: 1.5 }))],
};

const bars = uPlot.paths.bars?.({ size: [0.9, 40] });

const SCORES: Omit<uPlot.Options, "width" | "height"> = {
  scales: { x: { time: false, range: [0, 1] } },
  axes: [{ label: "score" }, { label: "decisions" }],
  series: [{ label: "score from" }, { label: "decisions", fill: "#5c6bc0", stroke: "#3949ab", paths: bars }],
};

export function Charts() {
  const { series, feed } = useLiveSnapshot();
  const throughput = useMemo<uPlot.AlignedData>(
    () => [series.time, series.throughput],
    [series],
  );
  const latency = useMemo<uPlot.AlignedData>(() => [series.time, series.p50, series.p99], [series]);
  const tiers = useMemo<uPlot.AlignedData>(
    () => [series.time, ...TIERS.map((t) => series.tierShare[t])],
    [series],
  );
  const scores = useMemo<uPlot.AlignedData>(() => {
    const counts = scoreHistogram(feed);
    return [counts.map((_, i) => i / SCORE_BINS), counts];
  }, [feed]);
  return (
    <section className="charts" aria-label="Charts">
      <Chart testId="chart-throughput" title="Throughput, last 15 minutes" options={THROUGHPUT} data={throughput} />
      <Chart testId="chart-latency" title="Scoring latency, last 15 minutes" options={LATENCY} data={latency} />
      <Chart testId="chart-tiers" title="Tier mix over time" options={TIER_MIX} data={tiers} />
      <Chart
        testId="chart-scores"
        title={`Scores of the last ${SCORE_SAMPLE} decisions`}
        options={SCORES}
        data={scores}
      />
    </section>
  );
}
