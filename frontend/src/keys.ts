import { useEffect, useRef } from "react";

function typing(target: EventTarget | null): boolean {
  if (!(target instanceof HTMLElement)) return false;
  return target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName);
}

// Enter on a link or a button is theirs, not a shortcut's.
function activating(event: KeyboardEvent): boolean {
  const target = event.target;
  return event.key === "Enter" && target instanceof HTMLElement && ["A", "BUTTON"].includes(target.tagName);
}

/** Single-key shortcuts, ignored while the analyst types in a field. */
export function useShortcuts(keys: Record<string, () => void>): void {
  const current = useRef(keys);
  current.current = keys;
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target) || activating(event)) return;
      const action = current.current[event.key];
      if (action) {
        event.preventDefault();
        action();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, []);
}
