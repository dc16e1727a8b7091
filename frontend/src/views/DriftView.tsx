// Drift: how far the last hour's traffic is from the data the model in service was trained
// on, the most drifted features first (GET /v1/model/drift; docs/drift.md explains each
// figure). Refreshed every 30 s: the window moves by minutes, not seconds.
import { useCallback, useEffect, useState } from "react";
import { api, errorText, type Schemas } from "../api/client";

type Report = Schemas["DriftReport"];

// The usual reading of a PSI: under 0.1 stable, 0.1 to 0.2 moderate, 0.2 and over significant.
export function level(psi: number | null | undefined): "none" | "stable" | "moderate" | "significant" {
  if (psi == null) return "none";
  if (psi >= 0.2) return "significant";
  if (psi >= 0.1) return "moderate";
  return "stable";
}

const share = (value: number | null | undefined) => (value == null ? "–" : `${(value * 100).toFixed(1)}%`);
const psiText = (value: number | null | undefined) => (value == null ? "–" : value.toFixed(3));

export function DriftView() {
  const [report, setReport] = useState<Report | null>(null);
  const [error, setError] = useState<string | null>(null);

  const load = useCallback(async () => {
    const { data, error: failure } = await api.GET("/v1/model/drift");
    if (data) {
      setReport(data);
      setError(null);
    } else setError(errorText(failure));
  }, []);

  useEffect(() => {
    void load();
    const timer = setInterval(() => void load(), 30_000);
    return () => clearInterval(timer);
  }, [load]);

  return (
    <section aria-label="Drift" className="drift">
      <h2>Drift from the training data</h2>
      {error && <p role="alert">{error}</p>}
      {report && !report.available && (
        <p className="notice" role="status">
          No drift figures for model {report.model_version ?? "–"}: {report.reason}
        </p>
      )}
      {report?.available && (
        <>
          <p data-testid="drift-summary">
            Model {report.model_version}: the last {Math.round((report.window_s ?? 0) / 60)} minutes ({report.rows}{" "}
            transactions) against {report.reference_rows} reference rows. Score PSI{" "}
            <strong className={`psi-${level(report.score_psi)}`}>{psiText(report.score_psi)}</strong>
            {report.score_psi == null && ` (a PSI needs ${report.min_rows} transactions in the window)`}.
          </p>
          <table className="rows">
            <thead>
              <tr>
                <th>feature</th>
                <th>PSI</th>
                <th>shift</th>
                <th>missing (live)</th>
                <th>missing (training)</th>
              </tr>
            </thead>
            <tbody>
              {report.features.map((f) => (
                <tr key={f.feature} data-testid="drift-row" data-level={level(f.psi)}>
                  <td className="mono">{f.feature}</td>
                  <td className={`psi-${level(f.psi)}`}>{psiText(f.psi)}</td>
                  <td>{level(f.psi) === "none" ? "–" : level(f.psi)}</td>
                  <td>{share(f.missing_share)}</td>
                  <td>{share(f.reference_missing_share)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}
