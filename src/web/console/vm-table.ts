// The VM list: one row per VM (state, vCPUs, memory, weight, cap, CPU now) with the lifecycle actions its state
// allows. Rows are kept by id and updated in place, so a refresh never takes a button from under a click; an
// action's error shows in its row until the next action there succeeds.
import type { VmInfo, VmState } from '../../hypervisor/model.js';
import type { VmRates } from '../../hypervisor/stats.js';
import { h, showError, errorText } from './dom.js';

export type Verb = 'start' | 'stop' | 'pause' | 'resume' | 'delete';

/** The actions each state allows (as the daemon's ALLOWED_IN), in the order the buttons show. */
const VERBS: Record<VmState, Verb[]> = {
  created: ['start', 'delete'],
  running: ['pause', 'stop'],
  paused: ['resume', 'stop'],
  stopped: ['start', 'delete'],
  crashed: ['start', 'delete'],
};

interface Row {
  tr: HTMLTableRowElement;
  cells: Record<'name' | 'state' | 'vcpus' | 'memory' | 'weight' | 'cap' | 'cpu', HTMLTableCellElement>;
  actions: HTMLElement;
  error: HTMLElement;
  state: VmState | null;
}

export interface TableHandlers {
  act(id: string, verb: Verb): Promise<void>;
  select(id: string): void;
}

export class VmTable {
  readonly element: HTMLElement;
  private readonly body: HTMLTableSectionElement;
  private readonly empty: HTMLElement;
  private readonly rows = new Map<string, Row>();
  private selected: string | null = null;

  constructor(private readonly handlers: TableHandlers) {
    this.body = h('tbody');
    this.empty = h('p', { class: 'empty' }, 'No VMs yet: create one below.');
    this.element = h('div', { class: 'vm-table' },
      h('table', {},
        h('thead', {}, h('tr', {}, ...['Name', 'State', 'vCPUs', 'Memory', 'Weight', 'Cap', 'CPU', 'Actions'].map((t) => h('th', {}, t)))),
        this.body),
      this.empty);
  }

  select(id: string | null): void {
    this.selected = id;
    for (const [rid, r] of this.rows) r.tr.classList.toggle('selected', rid === id);
  }

  /** Shows `vms` (the daemon's list) with the CPU of the latest sample. */
  render(vms: readonly VmInfo[], rates: ReadonlyMap<string, VmRates>): void {
    const ids = new Set(vms.map((v) => v.id));
    for (const [id, r] of this.rows) {
      if (!ids.has(id)) {
        r.tr.remove();
        this.rows.delete(id);
      }
    }
    for (const v of vms) {
      const r = this.rows.get(v.id) ?? this.addRow(v.id);
      r.cells.name.textContent = v.name;
      r.cells.name.title = v.id;
      r.cells.state.textContent = v.state;
      r.cells.state.className = `state state-${v.state}`;
      if (v.reason) r.cells.state.title = v.reason;
      r.cells.vcpus.textContent = String(v.config.vcpus);
      r.cells.memory.textContent = `${v.config.memory_mib} MiB`;
      r.cells.weight.textContent = String(v.config.weight);
      r.cells.cap.textContent = v.config.cap === 0 ? 'none' : `${v.config.cap}%`;
      const cpu = rates.get(v.id)?.cpu_pct;
      r.cells.cpu.textContent = cpu === undefined || v.state !== 'running' ? '–' : `${cpu.toFixed(1)}%`;
      if (r.state !== v.state) this.setActions(v.id, r, v.state);
    }
    this.empty.hidden = vms.length > 0;
  }

  private addRow(id: string): Row {
    const cell = () => h('td');
    const cells = { name: cell(), state: cell(), vcpus: cell(), memory: cell(), weight: cell(), cap: cell(), cpu: cell() };
    const actions = h('div', { class: 'actions' });
    const error = h('div', { class: 'error', role: 'alert' });
    error.hidden = true;
    const tr = h('tr', { 'data-vm': id, onclick: (e: Event) => {
      if (!(e.target as HTMLElement).closest('button')) this.handlers.select(id);
    } }, cells.name, cells.state, cells.vcpus, cells.memory, cells.weight, cells.cap, cells.cpu, h('td', {}, actions, error));
    tr.classList.toggle('selected', id === this.selected);
    this.body.append(tr);
    const row: Row = { tr, cells, actions, error, state: null };
    this.rows.set(id, row);
    return row;
  }

  private setActions(id: string, r: Row, state: VmState): void {
    r.state = state;
    r.actions.replaceChildren(...VERBS[state].map((verb) => {
      const b = h('button', { type: 'button', class: `act act-${verb}`, 'data-verb': verb }, verb);
      b.addEventListener('click', () => {
        // delete asks once more on the button itself
        if (verb === 'delete' && b.dataset.confirm !== 'yes') {
          b.dataset.confirm = 'yes';
          b.textContent = 'really delete?';
          setTimeout(() => {
            b.dataset.confirm = '';
            b.textContent = 'delete';
          }, 4000);
          return;
        }
        b.disabled = true;
        showError(r.error, null);
        this.handlers.act(id, verb).catch((e: unknown) => showError(r.error, errorText(e))).finally(() => (b.disabled = false));
      });
      return b;
    }));
  }
}
