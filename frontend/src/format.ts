/** A stored timestamp for people: UTC, to the second ("2026-12-02 06:55:45 UTC"). */
export function when(iso: string | null | undefined): string {
  if (!iso) return "–";
  const time = Date.parse(iso);
  if (Number.isNaN(time)) return iso;
  return `${new Date(time).toISOString().slice(0, 19).replace("T", " ")} UTC`;
}
