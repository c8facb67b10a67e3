// Live graphs from GET /v1/stats: the samples of the last minutes (History), and uPlot charts drawn from them —
// for the host, each VM's CPU share on one chart (where a weight change shows as shares moving), and per VM its
// CPU and steal, MIPS, memory, and disk and network rates. Charts are exposed as window.tvisorCharts (name →
// uPlot), so tests and the curious can read the data drawn.
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { StatsSample, VmRates } from '../../hypervisor/stats.js';
import { formatBytes } from './dom.js';

/** Samples kept (at the default 1 s interval: five minutes). */
export const HISTORY = 300;

const PALETTE = ['#4e9af1', '#f1a94e', '#5cc98a', '#e45d5d', '#b07ce8', '#e8d56a', '#5fd0d8', '#e87cc2'];

export type VmFigure = Exclude<keyof VmRates, 'id' | 'name' | 'state'>;

export class History {
  readonly samples: StatsSample[] = [];

  add(s: StatsSample): void {
    this.samples.push(s);
    if (this.samples.length > HISTORY) this.samples.shift();
  }

  /** Seconds since the epoch of each sample (uPlot's x axis). */
  times(): number[] {
    return this.samples.map((s) => Date.parse(s.time) / 1000);
  }

  /** One figure of one VM across the samples; null where the VM did not exist. */
  vm(id: string, figure: VmFigure): (number | null)[] {
    return this.samples.map((s) => s.vms.find((v) => v.id === id)?.[figure] ?? null);
  }

  /** The VMs in the window, in the order first seen, with their latest names. */
  vmNames(): Map<string, string> {
    const names = new Map<string, string>();
    for (const s of this.samples) for (const v of s.vms) names.set(v.id, v.name);
    return names;
  }

  get last(): StatsSample | undefined {
    return this.samples.at(-1);
  }
}

export interface SeriesSpec {
  label: string;
  color: string;
  values: (number | null)[];
}

/** How a chart's values read: percent, plain numbers, bytes, bytes per second. */
export type Unit = '%' | 'MIPS' | 'bytes' | 'bytes/s';

function formatValue(unit: Unit, v: number | null): string {
  if (v === null) return '–';
  switch (unit) {
    case '%': return `${v.toFixed(1)}%`;
    case 'MIPS': return v.toFixed(1);
    case 'bytes': return formatBytes(v);
    case 'bytes/s': return `${formatBytes(v)}/s`;
  }
}

declare global {
  interface Window {
    /** The console's charts by name, as drawn (read by the browser tests). */
    tvisorCharts?: Record<string, uPlot>;
  }
}

/** One uPlot chart in `parent`, rebuilt when its series change (a VM came or went), resized with its parent. */
export class Chart {
  private plot: uPlot | null = null;
  private labels = '';
  private readonly box: HTMLElement;

  constructor(readonly name: string, parent: HTMLElement, private readonly title: string, private readonly unit: Unit, private readonly height = 160) {
    this.box = document.createElement('div');
    this.box.className = 'chart';
    this.box.dataset.chart = name;
    parent.append(this.box);
    new ResizeObserver(() => this.plot?.setSize(this.size())).observe(this.box);
  }

  private size(): { width: number; height: number } {
    return { width: Math.max(200, this.box.clientWidth), height: this.height };
  }

  update(times: number[], series: SeriesSpec[]): void {
    const labels = series.map((s) => `${s.label}\u0000${s.color}`).join('\u0001');
    const data = [times, ...series.map((s) => s.values)] as uPlot.AlignedData;
    if (this.plot && labels === this.labels) {
      this.plot.setData(data);
      return;
    }
    this.plot?.destroy();
    this.labels = labels;
    const fmt = (_: uPlot, v: number | null) => formatValue(this.unit, v);
    this.plot = new uPlot({
      ...this.size(),
      title: this.title,
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
      scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(this.unit === '%' ? 100 : this.unit === 'MIPS' ? 1 : 1024, max * 1.1)] } },
      axes: [
        { stroke: '#9aa4b2', grid: { stroke: '#2a313c' }, ticks: { stroke: '#2a313c' } },
        { stroke: '#9aa4b2', grid: { stroke: '#2a313c' }, ticks: { stroke: '#2a313c' }, size: 70, values: (u, vals) => vals.map((v) => fmt(u, v)) },
      ],
      series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2, value: fmt, spanGaps: false }))],
    }, data, this.box);
    (window.tvisorCharts ??= {})[this.name] = this.plot;
  }

  destroy(): void {
    this.plot?.destroy();
    this.box.remove();
    if (window.tvisorCharts?.[this.name] === this.plot) delete window.tvisorCharts[this.name];
  }
}

/** A VM's colour: by its position among the VMs seen, so the host chart and its panel agree. */
export function vmColor(index: number): string {
  return PALETTE[index % PALETTE.length];
}

/** The host charts: every VM's CPU share on one, the host's totals on another. */
export class HostCharts {
  private readonly cpu: Chart;
  private readonly mips: Chart;

  constructor(parent: HTMLElement) {
    this.cpu = new Chart('host-cpu', parent, 'CPU by VM (% of one host CPU)', '%', 200);
    this.mips = new Chart('host-mips', parent, 'Guest MIPS, all VMs', 'MIPS', 200);
  }

  update(history: History): void {
    const times = history.times();
    const names = [...history.vmNames()];
    this.cpu.update(times, names.map(([id, name], i) => ({ label: name, color: vmColor(i), values: history.vm(id, 'cpu_pct') })));
    this.mips.update(times, [
      { label: 'MIPS', color: '#5cc98a', values: history.samples.map((s) => s.host.mips) },
    ]);
  }
}

/** One VM's charts: CPU and steal, MIPS, memory touched, disk and network rates. */
export class VmCharts {
  private readonly charts: Chart[];

  constructor(parent: HTMLElement, private readonly id: string) {
    this.charts = [
      new Chart('vm-cpu', parent, 'CPU and steal (% of one host CPU)', '%'),
      new Chart('vm-mips', parent, 'MIPS', 'MIPS'),
      new Chart('vm-memory', parent, 'Memory touched', 'bytes'),
      new Chart('vm-io', parent, 'Disk and network', 'bytes/s'),
    ];
  }

  update(history: History): void {
    const t = history.times();
    const v = (f: VmFigure) => history.vm(this.id, f);
    const [cpu, mips, mem, io] = this.charts;
    cpu.update(t, [{ label: 'CPU', color: '#4e9af1', values: v('cpu_pct') }, { label: 'steal', color: '#e45d5d', values: v('steal_pct') }]);
    mips.update(t, [{ label: 'MIPS', color: '#5cc98a', values: v('mips') }]);
    mem.update(t, [{ label: 'touched', color: '#b07ce8', values: v('memory_touched_bytes') }]);
    io.update(t, [
      { label: 'disk read', color: '#4e9af1', values: v('disk_read_bps') },
      { label: 'disk write', color: '#f1a94e', values: v('disk_write_bps') },
      { label: 'net rx', color: '#5cc98a', values: v('net_rx_bps') },
      { label: 'net tx', color: '#e8d56a', values: v('net_tx_bps') },
    ]);
  }

  destroy(): void {
    for (const c of this.charts) c.destroy();
  }
}
