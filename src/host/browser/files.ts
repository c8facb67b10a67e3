// Guest images in the browser: fetched from the page's own origin into shared memory (a SharedArrayBuffer),
// so every VM's worker reads the same bytes without a copy of its own, with progress for the page to show.

export type Progress = (received: number, total: number | null) => void;

/** The bytes at `url`, in a SharedArrayBuffer; throws with the URL when it cannot be fetched whole. */
export async function fetchShared(url: string, progress: Progress = () => {}): Promise<Uint8Array> {
  const r = await fetch(url);
  if (!r.ok || !r.body) throw new Error(`cannot fetch ${url}: ${r.status} ${r.statusText}`);
  const declared = Number(r.headers.get('content-length'));
  const total = Number.isSafeInteger(declared) && declared > 0 ? declared : null;
  const chunks: Uint8Array[] = [];
  let received = 0;
  const reader = r.body.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    chunks.push(value);
    received += value.length;
    if (total !== null && received > total) throw new Error(`${url}: more than the ${total} bytes it declared`);
    progress(received, total);
  }
  if (total !== null && received !== total) throw new Error(`${url}: ${received} of ${total} bytes arrived`);
  const out = new Uint8Array(new SharedArrayBuffer(received));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}
