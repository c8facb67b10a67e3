// A few lines instead of a UI framework: elements built from a tag, attributes and children, and the
// formatting the tables and graphs share.

type Attrs = Record<string, string | number | boolean | ((e: Event) => void) | undefined>;

/** An element: `on…` attributes are listeners, `false`/undefined ones are left out, strings become text nodes. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Attrs = {}, ...children: (Node | string | null)[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = String(v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  for (const c of children) if (c !== null) el.append(c);
  return el;
}

/** Bytes as a human reads them: 1.5 MiB. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (Math.abs(n) >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i === 0 ? n.toFixed(0) : n.toFixed(1)} ${units[i]}`;
}

/** Shows `message` in an error area (or clears it with null). */
export function showError(area: HTMLElement, message: string | null): void {
  area.textContent = message ?? '';
  area.hidden = message === null;
}

/** An error for the page: an API error's code and message (ApiFailure's text, or an ApiError's code), else its message. */
export function errorText(e: unknown): string {
  const x = e as { text?: string; code?: string; message?: string };
  if (typeof x?.text === 'string') return x.text;
  if (typeof x?.code === 'string') return `${x.code}: ${x.message}`;
  return x?.message ?? String(e);
}
