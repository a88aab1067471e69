// Resolves names to row ids inside the import transaction, remembering rows created earlier in it.
import type { Prisma } from '../../lib/db.ts';

export type Tx = Prisma.TransactionClient;

type Kind = 'credential' | 'host' | 'project' | 'group' | 'user';

export class IdResolver {
  private readonly ids = new Map<string, number>();

  constructor(private readonly tx: Tx) {}

  remember(kind: Kind, name: string, id: number): void {
    this.ids.set(`${kind}:${name}`, id);
  }

  credential(name: string): Promise<number> {
    return this.lookup('credential', name, () => this.tx.credential.findUniqueOrThrow({ where: { name }, select: { id: true } }));
  }

  host(name: string): Promise<number> {
    return this.lookup('host', name, () => this.tx.host.findUniqueOrThrow({ where: { name }, select: { id: true } }));
  }

  project(name: string): Promise<number> {
    return this.lookup('project', name, () => this.tx.project.findUniqueOrThrow({ where: { name }, select: { id: true } }));
  }

  user(name: string): Promise<number> {
    return this.lookup('user', name, () => this.tx.user.findUniqueOrThrow({ where: { name }, select: { id: true } }));
  }

  async group(project: string, name: string): Promise<number> {
    const projectId = await this.project(project);
    return this.lookup('group', `${project}/${name}`, () =>
      this.tx.hostGroup.findUniqueOrThrow({ where: { projectId_name: { projectId, name } }, select: { id: true } }));
  }

  /** `{ id }` references for connect/set, in the given order. */
  async hostRefs(names: string[]): Promise<{ id: number }[]> {
    const refs: { id: number }[] = [];
    for (const name of names) refs.push({ id: await this.host(name) });
    return refs;
  }

  async groupRefs(project: string, names: string[]): Promise<{ id: number }[]> {
    const refs: { id: number }[] = [];
    for (const name of names) refs.push({ id: await this.group(project, name) });
    return refs;
  }

  private async lookup(kind: Kind, name: string, find: () => Promise<{ id: number }>): Promise<number> {
    const key = `${kind}:${name}`;
    let id = this.ids.get(key);
    if (id === undefined) {
      id = (await find()).id;
      this.ids.set(key, id);
    }
    return id;
  }
}
