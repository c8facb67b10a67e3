// Creating a VM: from the default guest the hypervisor offers (GET /v1/images), or from files named by path
// (on the daemon's host, under its --allow-dir directories; in a tab, the page's files); a disk and the overlay
// taking its writes; name, vCPUs, memory, weight, cap, a NIC, and whether to start it. The hypervisor checks
// everything; its error shows under the form.
import type { GuestImageInfo, VmInfo } from '../../hypervisor/model.js';
import type { Backend } from './backend.js';
import { h, showError, errorText } from './dom.js';

/** What the form offers before the user types (the tab: its disk image, and an overlay in its storage). */
export interface FormDefaults {
  disk?: string;
  /** The overlay for a VM of this name (follows the name as it is typed, until the overlay is edited). */
  overlay?: (name: string) => string;
}

export class CreateForm {
  readonly element: HTMLFormElement;
  private readonly error: HTMLElement;
  private readonly fields: Record<'name' | 'vcpus' | 'memory' | 'weight' | 'cap' | 'kernel' | 'initrd' | 'disk' | 'overlay' | 'cmdline', HTMLInputElement>;
  private readonly start: HTMLInputElement;
  private readonly nic: HTMLInputElement;
  private readonly source: { image: HTMLInputElement; files: HTMLInputElement };
  private readonly imageNote: HTMLElement;
  private image: GuestImageInfo | null = null;

  constructor(private readonly api: Backend, private readonly created: (vm: VmInfo) => void, private readonly defaults: FormDefaults = {}) {
    const input = (name: string, attrs: Record<string, string | number | boolean> = {}) => h('input', { name, ...attrs });
    this.fields = {
      name: input('name', { placeholder: 'vm-name', pattern: '[A-Za-z0-9][A-Za-z0-9_.\\-]{0,62}', required: true }),
      vcpus: input('vcpus', { type: 'number', min: 1, max: 8, value: 1 }),
      memory: input('memory', { type: 'number', min: 16, step: 1, value: 256 }),
      weight: input('weight', { type: 'number', min: 1, max: 65535, value: 256 }),
      cap: input('cap', { type: 'number', min: 0, value: 0 }),
      kernel: input('kernel', { placeholder: '/path/to/Image', size: 40 }),
      initrd: input('initrd', { placeholder: '/path/to/initrd (optional)', size: 40 }),
      disk: input('disk', { placeholder: '/path/to/disk.img (optional)', size: 40 }),
      overlay: input('overlay', { placeholder: 'overlay taking its writes (optional)', size: 40 }),
      cmdline: input('cmdline', { placeholder: 'kernel command line (optional)', size: 40 }),
    };
    this.fields.name.value = `vm-${Math.random().toString(16).slice(2, 6)}`;
    this.fields.disk.value = defaults.disk ?? '';
    this.followName();
    this.fields.name.addEventListener('input', () => this.followName());
    this.start = input('start', { type: 'checkbox', checked: true });
    this.nic = input('nic', { type: 'checkbox' });
    this.source = {
      image: input('source', { type: 'radio', value: 'image', checked: true }),
      files: input('source', { type: 'radio', value: 'files' }),
    };
    this.imageNote = h('span', { class: 'hint' }, 'looking for the default guest…');
    this.error = h('div', { class: 'error', role: 'alert' });
    this.error.hidden = true;
    const label = (text: string, el: HTMLElement) => h('label', {}, text, el);
    const filesBox = h('div', { class: 'files' },
      label('kernel', this.fields.kernel), label('initrd', this.fields.initrd), label('cmdline', this.fields.cmdline));
    const diskBox = h('div', { class: 'files' }, label('disk', this.fields.disk), label('overlay', this.fields.overlay));
    const sync = () => (filesBox.hidden = !this.source.files.checked);
    this.source.image.addEventListener('change', sync);
    this.source.files.addEventListener('change', sync);
    sync();
    this.element = h('form', { class: 'create', onsubmit: (e: Event) => {
      e.preventDefault();
      void this.submit();
    } },
      h('h2', {}, 'New VM'),
      h('div', { class: 'row' }, label('name', this.fields.name), label('vCPUs', this.fields.vcpus), label('memory (MiB)', this.fields.memory),
        label('weight', this.fields.weight), label('cap (%)', this.fields.cap)),
      h('div', { class: 'row' },
        h('label', {}, this.source.image, 'default guest ', this.imageNote),
        h('label', {}, this.source.files, 'files on the daemon\'s host')),
      filesBox,
      diskBox,
      h('div', { class: 'row' },
        h('label', { title: 'eth0 in the guest, on the virtual switch every such VM of this hypervisor shares' }, this.nic, 'network (a NIC on the virtual switch)'),
        h('label', {}, this.start, 'start it'), h('button', { type: 'submit', class: 'primary' }, 'Create')),
      this.error);
  }

  /** The default overlay for the name typed, unless the user wrote another. */
  private followName(): void {
    const overlay = this.defaults.overlay;
    if (!overlay) return;
    const f = this.fields.overlay;
    if (f.value === '' || f.value === f.dataset.suggested) {
      f.value = overlay(this.fields.name.value.trim());
      f.dataset.suggested = f.value;
    }
  }

  /** Asks the daemon which guests it has ready (the default guest once pulled). */
  async loadImages(): Promise<void> {
    try {
      const images = await this.api.call<GuestImageInfo[]>('GET', '/v1/images');
      this.image = images.find((i) => i.name === 'default') ?? null;
      this.imageNote.textContent = this.image
        ? `(${this.image.description})`
        : '(none in the daemon\'s image cache: run tvisor image pull on its host)';
      if (!this.image) {
        this.source.files.checked = true;
        this.source.files.dispatchEvent(new Event('change'));
      }
    } catch (e) {
      this.imageNote.textContent = `(unknown: ${(e as Error).message})`;
    }
  }

  private async submit(): Promise<void> {
    showError(this.error, null);
    const f = this.fields;
    const body: Record<string, unknown> = {
      name: f.name.value.trim(), vcpus: Number(f.vcpus.value), memory_mib: Number(f.memory.value),
      weight: Number(f.weight.value), cap: Number(f.cap.value),
    };
    if (this.source.image.checked) {
      if (!this.image) {
        showError(this.error, 'The daemon has no default guest: run tvisor image pull on its host, or name the files.');
        return;
      }
      body.kernel = this.image.kernel;
      if (this.image.initrd) body.initrd = this.image.initrd;
    } else {
      if (f.kernel.value.trim() === '') {
        showError(this.error, 'Name a kernel file (an absolute path on the daemon\'s host).');
        return;
      }
      body.kernel = f.kernel.value.trim();
      if (f.initrd.value.trim()) body.initrd = f.initrd.value.trim();
      if (f.cmdline.value.trim()) body.cmdline = f.cmdline.value.trim();
    }
    if (f.disk.value.trim()) body.disks = [{ path: f.disk.value.trim(), ...(f.overlay.value.trim() ? { overlay: f.overlay.value.trim() } : {}) }];
    if (this.nic.checked) body.nics = [{}];
    const button = this.element.querySelector('button[type=submit]') as HTMLButtonElement;
    button.disabled = true;
    try {
      let vm = await this.api.call<VmInfo>('POST', '/v1/vms', body);
      if (this.start.checked) vm = await this.api.call<VmInfo>('POST', `/v1/vms/${vm.id}/start`);
      f.name.value = `vm-${Math.random().toString(16).slice(2, 6)}`;
      this.followName();
      this.created(vm);
    } catch (e) {
      showError(this.error, errorText(e));
    } finally {
      button.disabled = false;
    }
  }
}
