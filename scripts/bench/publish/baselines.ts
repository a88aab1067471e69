// What Ferry is compared with, on the same hosts in the same run: the parallel OpenSSH loop (one connection and one
// remote command per host: `ssh host 'cat > f' < f`, or `ssh host 'tar xzf -' < one.tar.gz`; relayed hosts through
// `ssh -J relay`), and Ansible (copy or unarchive, forks = hosts) when ansible-playbook is installed.
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { shq } from '../../../src/deploy/remote.ts';
import { spawnTail } from '../common.ts';
import type { Fleet, Target } from './fleet.ts';
import { CONFIG_FILE, type Payload } from './payloads.ts';

const RUN_TIMEOUT_MS = 30 * 60_000;
const CONNECT_TIMEOUT_S = 300;

/** What a baseline reports about its own run. */
export interface BaselineOutcome {
  note: string;
}

function failureNote(outs: { code: number; out: string }[], okNote: string): BaselineOutcome {
  const bad = outs.filter((o) => o.code !== 0);
  return { note: bad.length ? `${bad.length} failed: ${bad[0].out.trim().slice(-300)}` : okNote };
}

/** The parallel ssh loop: every host at once, one `ssh` each, the payload on its stdin. */
export async function sshLoop(fleet: Fleet, targets: Target[], payload: Payload): Promise<BaselineOutcome> {
  const remote = (t: Target) =>
    payload.kind === 'small' ? `cat > ${shq(path.join(t.sshd.dir, CONFIG_FILE))}` : `tar xzf - -C ${shq(t.sshd.dir)}`;
  const outs = await Promise.all(targets.map((t) =>
    spawnTail('ssh', [...fleet.sshArgs(t), remote(t)], { stdinFile: payload.baselineFile, timeoutMs: RUN_TIMEOUT_MS })));
  return failureNote(outs, 'all exit 0');
}

/** `ansible-playbook --version`'s first line, or null when Ansible is not installed. */
export async function ansibleVersion(): Promise<string | null> {
  const r = await spawnTail('ansible-playbook', ['--version'], { timeoutMs: 60_000 });
  return r.code === 0 ? r.out.split('\n')[0].trim() : null;
}

/** Ansible with its defaults (ControlPersist connections, no pipelining), one fresh control directory per run. */
export async function ansibleRun(work: string, fleet: Fleet, targets: Target[], payload: Payload, run: number): Promise<BaselineOutcome> {
  const dir = path.join(work, 'ansible', `${payload.kind}-${targets.length}-${run}-${Date.now()}`);
  const controlDir = path.join(dir, 'cp');
  await mkdir(controlDir, { recursive: true });
  const inventory = path.join(dir, 'inventory.yml');
  await writeFile(inventory, JSON.stringify({
    all: {
      vars: { ansible_python_interpreter: '/usr/bin/python3', ansible_user: fleet.user },
      hosts: Object.fromEntries(targets.map((t) => [t.name, {
        ansible_host: '127.0.0.1', ansible_port: t.sshd.port, ansible_ssh_private_key_file: t.keyFile,
        ansible_ssh_common_args: `-F ${fleet.sshConfig}${t.relayed ? ' -o ProxyJump=relay' : ''}`, deploy_dir: t.sshd.dir,
      }])),
    },
  }, null, 2));
  const task = payload.kind === 'small'
    ? ['    - name: publish the config file', '      ansible.builtin.copy:', '        src: "{{ payload }}"', `        dest: "{{ deploy_dir }}/${CONFIG_FILE}"`]
    : ['    - name: unpack the release', '      ansible.builtin.unarchive:', '        src: "{{ payload }}"', '        dest: "{{ deploy_dir }}"'];
  const playbook = path.join(dir, 'playbook.yml');
  await writeFile(playbook, ['- hosts: all', '  gather_facts: false', '  tasks:', ...task, ''].join('\n'));
  const env = {
    ...process.env, ANSIBLE_NOCOLOR: '1', ANSIBLE_RETRY_FILES_ENABLED: '0', ANSIBLE_LOCAL_TEMP: path.join(dir, 'local'),
    ANSIBLE_SSH_CONTROL_PATH_DIR: controlDir, ANSIBLE_HOST_KEY_CHECKING: 'True', ANSIBLE_FORKS: String(targets.length),
    // Ansible's 10 s ConnectTimeout marks relayed hosts unreachable when 64 forks share two cores; the others wait as long as it takes.
    ANSIBLE_TIMEOUT: String(CONNECT_TIMEOUT_S),
  };
  try {
    const out = await spawnTail('ansible-playbook', ['-i', inventory, '-f', String(targets.length), '-e', JSON.stringify({ payload: payload.baselineFile }), playbook],
      { env, timeoutMs: RUN_TIMEOUT_MS });
    const recap = /PLAY RECAP[\s\S]*/.exec(out.out)?.[0] ?? '';
    const failed = /failed=[1-9]|unreachable=[1-9]/.test(recap);
    return { note: out.code === 0 && !failed ? 'rc 0' : `rc ${out.code}: ${out.out.trim().slice(-600)}` };
  } finally {
    // The persisted master connections would otherwise linger for 60 s and serve the next run without a login.
    await Promise.all((await readdir(controlDir)).map((socket) =>
      spawnTail('ssh', ['-o', `ControlPath=${path.join(controlDir, socket)}`, '-O', 'exit', 'ansible-master'], { timeoutMs: 10_000 })));
  }
}
