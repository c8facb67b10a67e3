// tvisor in a browser tab: the hypervisor runs in this page (its VM manager and credit scheduler here, a Web
// Worker per VM), no server emulates anything. The default Debian guest's kernel and initramfs come from this
// page's origin (images/manifest.json names them; `tvisor demo` serves them from the image cache), fetched with
// progress shown, then the web console page shows the VMs as it shows a daemon's. Query: ?vms=N boots N VMs at
// once (default 1), each with a NIC on the tab's virtual switch and ?memory=MiB (default 128); ?pcpus=N sets
// the workers running at once (default: the browser's CPUs). A VM whose disk has an overlay in the browser's
// storage (/opfs/NAME) is kept across reloads, definition and disk writes; it then starts again instead. One
// guest of the default size is saved at its shell in the browser's storage and resumed from there by the next
// page (?fresh boots it anyway).
import '../console/style.css';
import './demo.css';
import { ConsolePage } from '../console/page.js';
import { h, formatBytes, errorText } from '../console/dom.js';
import { browserHypervisor } from '../../host/browser/hypervisor.js';
import { LocalApi } from '../../api/local-api.js';
import { fetchShared } from '../../host/browser/files.js';
import { MemoryStore } from '../../host/browser/store.js';
import { TabSnapshots } from '../../host/browser/snapshots.js';
import type { GuestImageInfo, VmInfo } from '../../hypervisor/model.js';

/** images/manifest.json: the guests this origin serves, their files as URLs relative to the page. */
interface Manifest {
  images: GuestImageInfo[];
  /** Disk images VMs may name, read in ranges as the guest reads them. */
  disks?: { path: string; size: number }[];
}

/** What the page measured, for the README's figures and the tests (window.tvisorDemo). */
interface DemoState {
  /** ms from navigation to the images fetched, and to the first VM started. */
  imagesMs?: number;
  startedMs?: number;
  bytes?: number;
  error?: string;
  vms: string[];
  /** The first VM was resumed from the snapshot an earlier page saved at its shell (not booted). */
  resumed?: boolean;
  /** This page saved the first VM at its shell, for the next page to resume. */
  saved?: boolean;
  /** The page's hypervisor API (api/local-api.ts), for benchmarks and the curious. */
  api?: LocalApi;
}

declare global {
  interface Window {
    tvisorDemo?: DemoState;
  }
}

const params = new URLSearchParams(location.search);
const count = (name: string, fallback: number, max: number) => {
  const n = Number(params.get(name));
  return Number.isInteger(n) && n >= 1 && n <= max ? n : fallback;
};

async function fetchImages(image: GuestImageInfo, status: HTMLElement): Promise<Map<string, Uint8Array>> {
  const paths = [image.kernel, ...(image.initrd ? [image.initrd] : [])];
  const got = new Map<string, { received: number; total: number | null }>();
  const show = () => {
    const parts = paths.map((p) => {
      const g = got.get(p);
      const name = p.split('/').pop();
      if (!g) return `${name}: waiting`;
      return g.total ? `${name}: ${formatBytes(g.received)} of ${formatBytes(g.total)} (${Math.floor((100 * g.received) / g.total)}%)` : `${name}: ${formatBytes(g.received)}`;
    });
    status.textContent = `Fetching the guest — ${parts.join(' · ')}`;
  };
  show();
  const files = await Promise.all(paths.map((p) => fetchShared(p, (received, total) => {
    got.set(p, { received, total });
    show();
  })));
  return new Map(paths.map((p, i) => [p, files[i]]));
}

/** Saves VM `id` to `path` once its console shows the shell's prompt (it runs on). */
function saveAtShell(api: LocalApi, id: string, path: string, state: DemoState): Promise<void> {
  return new Promise((resolve) => {
    const c = api.console(id);
    const dec = new TextDecoder();
    let out = '';
    c.onmessage = (d) => {
      if (typeof d === 'string') return;
      out = (out + dec.decode(d, { stream: true })).slice(-256);
      // the prompt (busybox's ash may follow it with a cursor position query, ESC [6n)
      if (!/\/ # (\x1b\[6n)?$/.test(out)) return;
      c.close();
      api.call('POST', `/v1/vms/${id}/snapshot`, { path, after: 'running' })
        .then(() => (state.saved = true))
        .catch((e: unknown) => console.warn(`tvisor: could not save the guest at its shell for the next page: ${errorText(e)}`))
        .finally(resolve);
    };
  });
}

async function main(): Promise<void> {
  const state: DemoState = { vms: [] };
  window.tvisorDemo = state;
  const root = document.getElementById('app')!;
  const status = h('p', { class: 'loading' }, 'Starting…');
  root.append(status);
  try {
    if (!globalThis.crossOriginIsolated) {
      throw new Error('this page needs cross-origin isolation (the headers Cross-Origin-Opener-Policy: same-origin and ' +
        'Cross-Origin-Embedder-Policy: require-corp) for shared memory between its workers; serve it with tvisor demo');
    }
    const manifest = await (await fetch('images/manifest.json')).json() as Manifest;
    // a VM's files are absolute paths (as the daemon's): the URL paths on this origin
    const abs = (url: string) => new URL(url, location.href).pathname;
    manifest.images = manifest.images.map((i) => ({ ...i, kernel: abs(i.kernel), ...(i.initrd ? { initrd: abs(i.initrd) } : {}) }));
    const disks = new Map((manifest.disks ?? []).map((d) => [abs(d.path), { url: abs(d.path), size: d.size }]));
    const image = manifest.images[0];
    if (!image) throw new Error('images/manifest.json lists no guest');
    const files = await fetchImages(image, status);
    state.imagesMs = Math.round(performance.now());
    state.bytes = [...files.values()].reduce((s, f) => s + f.length, 0);
    const pcpus = count('pcpus', Math.min(8, navigator.hardwareConcurrency || 2), 64);
    // VMs whose disks keep their writes in this browser's storage are kept across reloads, with their definitions
    const store = new MemoryStore(localStorage);
    const hv = browserHypervisor({
      files, disks, store, images: manifest.images, pcpus, memoryBudgetMib: 2048,
      workerUrl: new URL('assets/vm-worker.js', location.href),
    });
    // the daemon's API, answered in this page by the hypervisor's manager
    const api = new LocalApi(hv.manager, {
      checkCreate: (spec) => hv.checkCreate(spec),
      images: () => hv.images(),
      prepare: async (a) => {
        if (a.kind === 'restore') await hv.prepareRestore(a.request.snapshot);
      },
    });
    state.api = api;
    status.remove();
    // the form offers the origin's disk (if any) with an overlay in this browser's storage, kept across reloads
    const disk = [...disks.keys()][0];
    const page = new ConsolePage(root, api, {
      form: disk ? { disk, overlay: (name) => `/opfs/${name.replace(/[^A-Za-z0-9._-]/g, '_')}-vda` } : undefined,
      title: 'tvisor',
      note: `Running in this tab: ${image.description}, on ${pcpus} worker${pcpus > 1 ? 's' : ''} at a time under the credit scheduler; ` +
        `${formatBytes(state.bytes)} fetched from this origin; nothing runs on a server.`,
    });
    await page.reload();
    // ?vms=N new guests (default 1; 0: none), unless VMs kept from an earlier page came back
    const vms = params.get('vms') === '0' ? 0 : count('vms', 1, 8);
    const memory = count('memory', 128, 2048);
    const kept = hv.manager.list().map((v) => v.id);
    state.vms.push(...kept);
    // one guest of the default size starts as `tvisor run` does: resumed from where an earlier page saved it at
    // its shell (a snapshot in this browser's storage, for these very files), else booted and then saved so
    const fastStart = kept.length === 0 && vms === 1 && memory === 128 && !params.has('fresh');
    const snapshot = `/opfs/tvisor-${image.name}-${files.get(image.kernel)!.length}-${image.initrd ? files.get(image.initrd)!.length : 0}.snap`;
    if (fastStart && await TabSnapshots.exists(snapshot)) {
      try {
        const vm = await api.call<VmInfo>('POST', '/v1/vms', { snapshot, name: 'debian-1' });
        await api.call('POST', `/v1/vms/${vm.id}/start`);
        state.vms.push(vm.id);
        state.resumed = true;
      } catch (e) {
        console.warn(`tvisor: the saved start could not be resumed (${errorText(e)}); booting instead`);
      }
    }
    for (let i = 1; i <= (kept.length > 0 || state.resumed ? 0 : vms); i++) {
      // each with a NIC on the tab's virtual switch, so the guests can talk to each other
      const vm = await api.call<VmInfo>('POST', '/v1/vms', {
        name: `debian-${i}`, kernel: image.kernel, initrd: image.initrd, memory_mib: memory, nics: [{}],
      });
      await api.call('POST', `/v1/vms/${vm.id}/start`);
      state.vms.push(vm.id);
    }
    if (fastStart && !state.resumed) void saveAtShell(api, state.vms[0], snapshot, state);
    state.startedMs = Math.round(performance.now());
    await page.refresh();
    if (state.vms.length > 0) page.select(state.vms[0]);
  } catch (e) {
    state.error = errorText(e);
    status.className = 'loading error';
    status.textContent = `tvisor could not start: ${state.error}`;
  }
}

void main();
