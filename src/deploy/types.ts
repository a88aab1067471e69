// Contracts between the release engine and the world: the engine never imports web code or Prisma.
import type { Readable } from 'node:stream';

export interface ExecOptions {
  /** Data written to the command's stdin (then stdin is closed). */
  stdin?: Buffer | string | Readable;
  /** Kill the command and fail after this many milliseconds. */
  timeoutMs?: number;
  /** Extra environment, exported by a shell prefix (sshd usually refuses AcceptEnv). Values are shell-quoted. */
  env?: Record<string, string>;
  /** Live output, for progress views. */
  onOutput?: (chunk: string, stream: 'stdout' | 'stderr') => void;
  /**
   * Characters of stdout and of stderr kept in the result (the tail, after a line saying how much was dropped).
   * Default COMMAND_CAPTURE_CHARS, for Ferry's own commands that answer in their output; 0 when `onOutput` does
   * all the work (user commands and hooks keep their own bounded tail).
   */
  captureChars?: number;
  /** Stops the command like a timeout does (process group killed), failing with the signal's reason. */
  signal?: AbortSignal;
  /** Called with each chunk of a streamed stdin once SSH has copied it into its packets (it may be reused then). */
  onStdinSent?: (chunk: Buffer) => void;
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** One open SSH connection to a target (possibly through jump hosts). */
export interface RemoteSession {
  readonly hostName: string;
  /** Run a shell command on the target. Never rejects for a non-zero exit; rejects on connection loss/timeout. */
  exec(command: string, opts?: ExecOptions): Promise<ExecResult>;
  close(): Promise<void>;
}

/** Everything needed to reach one host. Secrets are already decrypted; never log this object. */
export interface HostTarget {
  name: string;
  address: string;
  port: number;
  username: string;
  privateKey?: string;
  passphrase?: string;
  password?: string;
  /** Pinned host key as "type base64" (OpenSSH known_hosts style, without the host name). */
  hostKey?: string | null;
  jump?: HostTarget | null;
}

export interface ConnectOptions {
  connectTimeoutMs?: number;
  keepaliveIntervalMs?: number;
  /** Called when a host without a pinned key presented one and the connection succeeded: pin it. */
  onNewHostKey?: (hostName: string, hostKey: string, fingerprint: string) => void | Promise<void>;
  /**
   * Keys offered by SSH agent forwarding to ssh clients run ON the host connected to (the last hop only; jump hosts
   * on the way never see them). They stay in Ferry's memory: nothing is written on the host, and Ferry's own login
   * never uses them. Every command of the session gets the forwarded agent.
   */
  forwardAgentKeys?: readonly AgentKey[];
}

/** A private key an in-memory agent serves; encrypted keys carry their passphrase and are decrypted in memory. */
export interface AgentKey {
  privateKey: string;
  passphrase?: string;
}

export interface Transport {
  connect(target: HostTarget, opts?: ConnectOptions): Promise<RemoteSession>;
}

/** Progress events of a job, sent to the job's event sink (persisted and streamed by the services). */
export type JobEvent =
  | { type: 'job'; status: string; message?: string }
  | { type: 'host'; host: string; status: string; phase: string; error?: string; snapshotTaken?: boolean; exitCode?: number; /** Rollback: jobs already undone on this host before it failed. */ restoredJobIds?: number[]; /** Publish in waves: the gate's result on this host (set by the services, never the engine). */ gate?: string }
  | { type: 'output'; host: string; text: string }
  /** Publish in waves: the plan and progress of every wave (sent by the services, never the engine). */
  | { type: 'waves'; waves: unknown }
  /** Upload progress of a host (throttled, upload-progress.ts); `relay` when it is the package's copy to the host's relay. */
  | { type: 'progress'; host: string; sent: number; total: number; rate: number; relay?: string };

/** Receives progress; may return a promise that resolves once the event is durable (the engine awaits it at checkpoints). */
export type EventSink = (event: JobEvent) => void | Promise<void>;

export interface EngineLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  debug(obj: object, msg?: string): void;
}
