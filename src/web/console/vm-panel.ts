// The selected VM: what it is, live changes of its weight, cap and balloon (PATCH /v1/vms/{id}, only the
// fields changed), its terminal, and its graphs. Terminals are kept per VM while the page lives, so switching
// VMs keeps each one's scrollback and connection.
import type { VmInfo } from '../../hypervisor/model.js';
import type { Backend } from './backend.js';
import { VmCharts, type History } from './charts.js';
import { h, showError, errorText } from './dom.js';
import { VmTerminal } from './terminal.js';

export class VmPanel {
  readonly element: HTMLElement;
  private readonly title: HTMLElement;
  private readonly summary: HTMLElement;
  private readonly inputs: Record<'weight' | 'cap' | 'balloon_mib', HTMLInputElement>;
  private readonly error: HTMLElement;
  private readonly termBox: HTMLElement;
  private readonly chartBox: HTMLElement;
  private readonly terminals = new Map<string, VmTerminal>();
  private charts: VmCharts | null = null;
  private vm: VmInfo | null = null;

  constructor(private readonly api: Backend, private readonly changed: (vm: VmInfo) => void) {
    this.title = h('h2');
    this.summary = h('p', { class: 'summary' });
    const num = (name: string, min: number, max?: number) => h('input', { name, type: 'number', min, max, step: 1 });
    this.inputs = { weight: num('weight', 1, 65535), cap: num('cap', 0), balloon_mib: num('balloon_mib', 0) };
    this.error = h('div', { class: 'error', role: 'alert' });
    this.error.hidden = true;
    const form = h('form', { class: 'settings', onsubmit: (e: Event) => {
      e.preventDefault();
      void this.apply();
    } },
      h('label', {}, 'weight', this.inputs.weight),
      h('label', {}, 'cap (% of a CPU, 0 = none)', this.inputs.cap),
      h('label', {}, 'balloon (MiB taken back)', this.inputs.balloon_mib),
      h('button', { type: 'submit', class: 'primary' }, 'Apply'),
      this.error);
    this.termBox = h('div', { class: 'terminals' });
    this.chartBox = h('div', { class: 'charts vm-charts' });
    this.element = h('section', { class: 'panel', hidden: true }, this.title, this.summary, form, this.termBox, this.chartBox);
  }

  get selected(): string | null {
    return this.vm?.id ?? null;
  }

  /** Shows `vm` (null: nothing selected); its settings' inputs are filled only when another VM is shown. */
  show(vm: VmInfo | null): void {
    const other = vm?.id !== this.vm?.id;
    this.vm = vm;
    this.element.hidden = vm === null;
    if (!vm) return;
    this.title.textContent = vm.name;
    const files = [vm.config.kernel, vm.config.initrd, ...vm.config.disks.map((d) => d.path)].filter(Boolean).join(', ');
    this.summary.textContent = `${vm.id} · ${vm.state}${vm.reason ? ` (${vm.reason})` : ''} · ${vm.config.vcpus} vCPU${vm.config.vcpus > 1 ? 's' : ''}, ` +
      `${vm.config.memory_mib} MiB · ${files}`;
    if (!other) return;
    this.inputs.weight.value = String(vm.config.weight);
    this.inputs.cap.value = String(vm.config.cap);
    this.inputs.balloon_mib.value = String(vm.stats.balloon_mib);
    this.inputs.balloon_mib.max = String(vm.config.memory_mib - 1);
    showError(this.error, null);
    for (const [id, t] of this.terminals) t.element.hidden = id !== vm.id;
    let term = this.terminals.get(vm.id);
    if (!term) {
      term = new VmTerminal(this.api, vm.id);
      this.terminals.set(vm.id, term);
      this.termBox.append(term.element);
    }
    term.open();
    term.focus();
    this.charts?.destroy();
    this.charts = new VmCharts(this.chartBox, vm.id);
  }

  /** Ends the terminals of VMs that are gone. */
  prune(ids: ReadonlySet<string>): void {
    for (const [id, t] of this.terminals) {
      if (ids.has(id)) continue;
      t.dispose();
      this.terminals.delete(id);
    }
    if (this.vm && !ids.has(this.vm.id)) {
      this.charts?.destroy();
      this.charts = null;
      this.show(null);
    }
  }

  updateCharts(history: History): void {
    this.charts?.update(history);
  }

  private async apply(): Promise<void> {
    if (!this.vm) return;
    showError(this.error, null);
    const patch: Record<string, number> = {};
    const current = { weight: this.vm.config.weight, cap: this.vm.config.cap, balloon_mib: this.vm.stats.balloon_mib };
    for (const k of ['weight', 'cap', 'balloon_mib'] as const) {
      const text = this.inputs[k].value.trim();
      if (text === '') continue;
      const n = Number(text);
      if (n !== current[k]) patch[k] = n;
    }
    if (Object.keys(patch).length === 0) {
      showError(this.error, 'Nothing changed.');
      return;
    }
    try {
      const vm = await this.api.call<VmInfo>('PATCH', `/v1/vms/${this.vm.id}`, patch);
      this.vm = vm;
      this.changed(vm);
    } catch (e) {
      showError(this.error, errorText(e));
    }
  }
}
