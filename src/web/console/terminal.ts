// A VM's serial console in the page: an xterm.js terminal on the console channel (the daemon's WebSocket, or
// the in-page hypervisor's): bytes both ways, and text events (state changes and skipped output). The
// terminal fits its box as the page resizes, keeps 10 000 lines of scrollback, copies the selection with
// Ctrl+Shift+C (Ctrl+C goes to the guest, as in a terminal emulator) and pastes with Ctrl+Shift+V or Ctrl+V.
import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import '@xterm/xterm/css/xterm.css';
import type { Backend, ConsoleChannel } from './backend.js';

const RECONNECT_MS = 2000;

export class VmTerminal {
  readonly element: HTMLElement;
  private readonly term: Terminal;
  private readonly fit = new FitAddon();
  private ws: ConsoleChannel | null = null;
  private closed = false;
  private readonly encoder = new TextEncoder();

  constructor(private readonly api: Backend, private readonly id: string) {
    this.element = document.createElement('div');
    this.element.className = 'terminal';
    this.element.dataset.vm = id;
    this.term = new Terminal({
      scrollback: 10_000,
      convertEol: false,
      cursorBlink: true,
      fontFamily: 'ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace',
      fontSize: 14,
      theme: { background: '#0d1117', foreground: '#d8dee9' },
    });
    this.term.loadAddon(this.fit);
    this.term.attachCustomKeyEventHandler((e) => {
      if (e.type === 'keydown' && e.ctrlKey && e.shiftKey && (e.key === 'C' || e.key === 'c')) {
        const text = this.term.getSelection();
        if (text) void navigator.clipboard?.writeText(text).catch(() => {});
        return false;
      }
      if (e.type === 'keydown' && e.ctrlKey && e.shiftKey && (e.key === 'V' || e.key === 'v')) {
        void navigator.clipboard?.readText().then((t) => this.term.paste(t)).catch(() => {});
        return false;
      }
      return true;
    });
    this.term.onData((d) => this.send(d));
    this.term.onBinary((d) => this.send(d, true));
    new ResizeObserver(() => this.fitNow()).observe(this.element);
  }

  /** Puts the terminal in the page (xterm.js needs its element attached) and connects. */
  open(): void {
    if (this.term.element) return;
    this.term.open(this.element);
    this.fitNow();
    this.connect();
  }

  focus(): void {
    this.term.focus();
  }

  private fitNow(): void {
    if (this.element.clientWidth > 0 && this.element.clientHeight > 0) this.fit.fit();
  }

  private send(data: string, binary = false): void {
    if (!this.ws?.open) return;
    this.ws.send(binary ? Uint8Array.from(data, (c) => c.charCodeAt(0) & 0xff) : this.encoder.encode(data));
  }

  private connect(): void {
    const ws = this.api.console(this.id);
    this.ws = ws;
    ws.onmessage = (data) => {
      if (typeof data !== 'string') {
        this.term.write(data);
        return;
      }
      const e = JSON.parse(data) as { event: string; state?: string; reason?: string; bytes?: number };
      if (e.event === 'state') this.note(`VM ${e.state}${e.reason ? `: ${e.reason}` : ''}`);
      else if (e.event === 'skipped') this.note(`${e.bytes} bytes of output skipped`);
    };
    ws.onclose = (code, reason) => {
      if (this.closed) return;
      if (code === 4404) {
        this.note('the VM was deleted');
        return;
      }
      this.note(`console disconnected${reason ? `: ${reason}` : ''}; reconnecting`);
      setTimeout(() => !this.closed && this.connect(), RECONNECT_MS);
    };
  }

  /** A line from tvisor (not the guest), dimmed. */
  private note(text: string): void {
    this.term.write(`\r\n\x1b[2m[tvisor: ${text}]\x1b[0m\r\n`);
  }

  dispose(): void {
    this.closed = true;
    this.ws?.close();
    this.term.dispose();
    this.element.remove();
  }
}
