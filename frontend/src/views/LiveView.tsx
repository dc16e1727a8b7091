import { Charts } from "../live/Charts";
import { Feed } from "../live/Feed";
import { Kpis } from "../live/Kpis";
import { useLiveSnapshot } from "../live/useLive";

export function LiveView() {
  const { missedSeconds, dropped } = useLiveSnapshot();
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
      <Kpis />
      <Charts />
      <Feed />
    </div>
  );
}
