// The console page: the VM list with its actions, a form to create VMs, the selected VM's terminal, settings
// and graphs, and the host's graphs, on a Backend: the daemon's API (same origin, its token), or a hypervisor
// running in the page itself. The list follows /v1/events (a lifecycle event refreshes it) and /v1/stats (one
// sample a second: the graphs and the CPU column); both streams reopen if they break (a daemon restart).
import type { VmEvent } from '../../hypervisor/events.js';
import type { VmInfo } from '../../hypervisor/model.js';
import type { StatsSample, VmRates } from '../../hypervisor/stats.js';
import { ApiFailure, type Backend } from './backend.js';
import { HostCharts, History } from './charts.js';
import { CreateForm, type FormDefaults } from './create-form.js';
import { formatBytes, h, showError, errorText } from './dom.js';
import { VmPanel } from './vm-panel.js';
import { VmTable, type Verb } from './vm-table.js';

const RETRY_MS = 2000;

export interface PageOptions {
  /** The header's title. */
  title: string;
  /** A line under the header (e.g. what runs where). */
  note?: string;
  /** What the create form offers. */
  form?: FormDefaults;
}

export class ConsolePage {
  private readonly history = new History();
  private vms: VmInfo[] = [];
  private readonly table: VmTable;
  private readonly panel: VmPanel;
  private readonly form: CreateForm;
  private readonly hostCharts: HostCharts;
  private readonly status = h('span', { class: 'status' }, 'connecting…');
  private readonly hostLine = h('span', { class: 'host' });
  private readonly listError = h('div', { class: 'error', role: 'alert' });
  private readonly tokenForm: HTMLFormElement;
  private streams = new AbortController();

  constructor(root: HTMLElement, private readonly api: Backend, options: PageOptions) {
    this.table = new VmTable({ act: (id, verb) => this.act(id, verb), select: (id) => this.select(id) });
    this.panel = new VmPanel(this.api, (vm) => this.replace(vm));
    this.form = new CreateForm(this.api, (vm) => {
      this.replace(vm);
      this.select(vm.id);
    }, options.form);
    const tokenInput = h('input', { type: 'password', name: 'token', placeholder: 'API token', autocomplete: 'current-password' });
    this.tokenForm = h('form', { class: 'token', hidden: true, onsubmit: (e: Event) => {
      e.preventDefault();
      this.api.setToken?.(tokenInput.value);
      this.tokenForm.hidden = true;
      void this.reload();
    } }, h('span', {}, 'This daemon needs its API token (serve --token-file):'),
      // a password form has a user name field (browsers and password managers expect one): the daemon's address
      h('input', { type: 'text', name: 'username', autocomplete: 'username', value: location.host, hidden: true }),
      tokenInput, h('button', { type: 'submit', class: 'primary' }, 'Use'));
    this.api.onUnauthorized = () => {
      this.tokenForm.hidden = false;
      this.status.textContent = 'needs the token';
    };
    const hostBox = h('div', { class: 'charts host-charts' });
    this.hostCharts = new HostCharts(hostBox);
    showError(this.listError, null);
    root.append(
      h('header', {}, h('h1', {}, options.title), this.hostLine, this.status),
      ...(options.note ? [h('p', { class: 'note' }, options.note)] : []),
      this.tokenForm,
      h('main', {},
        h('section', { class: 'list' }, h('h2', {}, 'Virtual machines'), this.listError, this.table.element, this.form.element),
        h('section', { class: 'host-section' }, h('h2', {}, 'Host'), hostBox),
        this.panel.element));
  }

  async reload(): Promise<void> {
    this.streams.abort();
    this.streams = new AbortController();
    await Promise.all([this.refresh(), this.form.loadImages()]);
    void this.follow('/v1/events', (_: VmEvent) => void this.refresh());
    void this.follow('/v1/stats', (s: StatsSample) => this.sample(s));
  }

  /** Reads a stream for as long as the page lives, reopening it when it breaks (a daemon restart). */
  private async follow<T>(path: string, each: (item: T) => void): Promise<void> {
    const signal = this.streams.signal;
    while (!signal.aborted) {
      try {
        await this.api.stream(path, each, signal);
      } catch (e) {
        if (signal.aborted) return;
        if (e instanceof ApiFailure && e.status === 401) return;
        this.status.textContent = 'disconnected: retrying';
      }
      await new Promise((r) => setTimeout(r, RETRY_MS));
      if (!signal.aborted) void this.refresh();
    }
  }

  /** Reads the VM list again. */
  async refresh(): Promise<void> {
    try {
      this.vms = await this.api.call<VmInfo[]>('GET', '/v1/vms');
      showError(this.listError, null);
      this.status.textContent = 'connected';
    } catch (e) {
      showError(this.listError, errorText(e));
      return;
    }
    this.render();
  }

  private render(): void {
    const rates = new Map<string, VmRates>((this.history.last?.vms ?? []).map((v) => [v.id, v]));
    this.table.render(this.vms, rates);
    this.panel.prune(new Set(this.vms.map((v) => v.id)));
    const shown = this.vms.find((v) => v.id === this.panel.selected);
    if (shown) this.panel.show(shown);
  }

  private sample(s: StatsSample): void {
    this.history.add(s);
    const byId = new Map(s.vms.map((v) => [v.id, v]));
    // the sample carries each VM's settings as they are now: the list follows without a request
    for (const vm of this.vms) {
      const r = byId.get(vm.id);
      if (r) vm.config = { ...vm.config, weight: r.weight, cap: r.cap };
    }
    const host = s.host;
    this.hostLine.textContent = `${host.vms} VM${host.vms === 1 ? '' : 's'}, ${host.running} running · ` +
      `${host.cpu_pct.toFixed(0)}% of ${host.pcpus} CPU${host.pcpus === 1 ? '' : 's'} (${(host.cpu_pct / host.pcpus).toFixed(0)}% busy) · ` +
      `${host.mips.toFixed(0)} MIPS · memory ${host.memory_committed_mib} of ${host.memory_budget_mib} MiB defined, ${formatBytes(host.memory_touched_bytes)} touched`;
    this.render();
    this.hostCharts.update(this.history);
    this.panel.updateCharts(this.history);
  }

  private replace(vm: VmInfo): void {
    const i = this.vms.findIndex((v) => v.id === vm.id);
    if (i >= 0) this.vms[i] = vm;
    else this.vms.push(vm);
    this.render();
  }

  /** Shows VM `id` in the panel (its terminal, settings and graphs). */
  select(id: string): void {
    this.table.select(id);
    this.panel.show(this.vms.find((v) => v.id === id) ?? null);
    this.panel.updateCharts(this.history);
  }

  private async act(id: string, verb: Verb): Promise<void> {
    if (verb === 'delete') {
      await this.api.call('DELETE', `/v1/vms/${id}`);
      this.vms = this.vms.filter((v) => v.id !== id);
      this.render();
      return;
    }
    this.replace(await this.api.call<VmInfo>('POST', `/v1/vms/${id}/${verb}`));
  }
}
