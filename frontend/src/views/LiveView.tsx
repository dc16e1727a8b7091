import { Charts } from "../live/Charts";
import { Feed } from "../live/Feed";
import { Kpis } from "../live/Kpis";
import { useLiveSnapshot } from "../live/useLive";

export function LiveView() {
  const { missedSeconds, dropped, skipped } = useLiveSnapshot();
  return (
    <div className="live">
      {missedSeconds !== null && (
        <p className="notice" data-testid="gap-notice" role="status">
          Reconnected: missed {missedSeconds} seconds (no data is shown for them)
        </p>
      )}
      {dropped > 0 && (
        <p className="notice" role="status">
          The console fell behind: the server dropped {dropped} messages.
        </p>
      )}
      {skipped > 0 && (
        <p className="notice" role="status">
          {skipped} decisions arrived while the tab was hidden and were not added to the feed (the
          KPIs and charts count them).
        </p>
      )}
      <Kpis />
      <Charts />
      <Feed />
    </div>
  );
}
