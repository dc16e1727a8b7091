// A uPlot chart that follows its container's width and takes new data without
// being rebuilt.
import { useEffect, useRef } from "react";
import uPlot from "uplot";

export function Chart({
  testId,
  title,
  options,
  data,
}: {
  testId: string;
  title: string;
  options: Omit<uPlot.Options, "width" | "height">;
  data: uPlot.AlignedData;
}) {
  const holder = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);

  useEffect(() => {
    const element = holder.current;
    if (!element) return;
    const chart = new uPlot(
      { legend: { live: false }, ...options, width: element.clientWidth || 400, height: 160 },
      data,
      element,
    );
    plot.current = chart;
    const resize =
      typeof ResizeObserver === "function"
        ? new ResizeObserver(() => chart.setSize({ width: element.clientWidth || 400, height: 160 }))
        : null;
    resize?.observe(element);
    return () => {
      resize?.disconnect();
      chart.destroy();
      plot.current = null;
    };
    // The options are fixed per chart; data changes go through setData below.
  }, [options]);

  useEffect(() => {
    plot.current?.setData(data);
  }, [data]);

  return (
    <figure className="chart" data-testid={testId}>
      <figcaption>{title}</figcaption>
      <div ref={holder} role="img" aria-label={title} />
    </figure>
  );
}
