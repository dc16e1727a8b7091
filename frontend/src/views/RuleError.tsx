// The API's 422 for a rule, with the condition marked where it is wrong.
export interface FieldError {
  field: string;
  message: string;
  type?: string;
  position?: number | null;
}

/** The errors of a 422 body ({error: "validation_error", detail: [FieldError]}). */
export function fieldErrors(body: unknown): FieldError[] {
  if (!body || typeof body !== "object" || !("detail" in body)) return [];
  const detail = (body as { detail: unknown }).detail;
  if (Array.isArray(detail)) return detail as FieldError[];
  return [{ field: "body", message: typeof detail === "string" ? detail : JSON.stringify(detail) }];
}

export function RuleError({ errors, condition }: { errors: FieldError[]; condition: string }) {
  if (errors.length === 0) return null;
  return (
    <div data-testid="rule-error" role="alert" className="error">
      {errors.map((e, i) => {
        const at = e.position ?? null;
        return (
          <div key={i}>
            <p>
              {e.field}: {e.message}
              {at !== null && ` (at position ${at})`}
            </p>
            {at !== null && e.field.endsWith("condition") && (
              <pre className="condition-marked" aria-label={`condition, error at position ${at}`}>
                {condition.slice(0, at)}
                <mark data-testid="rule-error-mark" data-position={at}>
                  {condition.slice(at, at + 1) || " "}
                </mark>
                {condition.slice(at + 1)}
              </pre>
            )}
          </div>
        );
      })}
    </div>
  );
}
